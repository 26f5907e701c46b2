// Package pgsql holds the Postgres rules that Gregor's Postgres connectors share — the CDC source
// and the sink in connectors/postgres and the scheduled query source in connectors/cron: the type
// OIDs they map, and how an identifier is quoted into SQL. One home, so the three never disagree.
package pgsql

import "github.com/jackc/pgx/v5"

// Postgres type OIDs (pg_type.oid), stable across versions.
const (
	OIDBool        = 16
	OIDBytea       = 17
	OIDName        = 19
	OIDInt8        = 20
	OIDInt2        = 21
	OIDInt4        = 23
	OIDText        = 25
	OIDOID         = 26
	OIDJSON        = 114
	OIDFloat4      = 700
	OIDFloat8      = 701
	OIDBPChar      = 1042
	OIDVarchar     = 1043
	OIDDate        = 1082
	OIDTime        = 1083
	OIDTimestamp   = 1114
	OIDTimestamptz = 1184
	OIDNumeric     = 1700
	OIDUUID        = 2950
	OIDJSONB       = 3802
)

// ArrayElem maps the array type OIDs of the types above to their element OIDs. The caller must not
// modify it.
var ArrayElem = map[uint32]uint32{
	1000: OIDBool, 1001: OIDBytea, 1003: OIDName, 1016: OIDInt8, 1005: OIDInt2, 1007: OIDInt4, 1009: OIDText,
	199: OIDJSON, 1021: OIDFloat4, 1022: OIDFloat8, 1014: OIDBPChar, 1015: OIDVarchar, 1182: OIDDate,
	1183: OIDTime, 1115: OIDTimestamp, 1185: OIDTimestamptz, 1231: OIDNumeric, 2951: OIDUUID, 3807: OIDJSONB,
}

// QuoteIdent quotes a possibly qualified identifier (schema, table; or one column) for SQL: each
// part in double quotes with inner quotes doubled, joined by dots. NB: it is pgx's own quoting,
// which also drops NUL bytes (Postgres identifiers cannot hold them).
func QuoteIdent(parts ...string) string { return pgx.Identifier(parts).Sanitize() }
