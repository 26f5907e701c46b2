package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/internal/pgsql"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// tableRef names a table found in the catalog.
type tableRef struct {
	oid          uint32
	schema, name string
}

// discoverTables lists the captured tables (ordinary and partitioned parents) of the database.
func discoverTables(ctx context.Context, conn *pgx.Conn, c *config) ([]tableRef, error) {
	rows, err := conn.Query(ctx, `SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
		ORDER BY n.nspname, c.relname`)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	var out []tableRef
	for rows.Next() {
		var r tableRef
		if err := rows.Scan(&r.oid, &r.schema, &r.name); err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		if c.captured(r.schema, r.name) {
			out = append(out, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	return out, nil
}

// loadColumns reads a table's columns, their nullability and primary-key positions.
func loadColumns(ctx context.Context, conn *pgx.Conn, oid uint32) ([]catalogColumn, error) {
	rows, err := conn.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull,
			coalesce((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) WHERE k.attnum = a.attnum), 0) - 1
		FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, err
	}
	var out []catalogColumn
	for rows.Next() {
		var cc catalogColumn
		var keyPos int64
		if err := rows.Scan(&cc.name, &cc.oid, &cc.typmod, &cc.notNull, &keyPos); err != nil {
			return nil, err
		}
		cc.keyPos = int(keyPos)
		out = append(out, cc)
	}
	return out, rows.Err()
}

// ensurePublication checks or creates the publication per publication.autocreate.mode.
func ensurePublication(ctx context.Context, conn *pgx.Conn, c *config, tables []tableRef) error {
	var allTables bool
	err := conn.QueryRow(ctx, `SELECT puballtables FROM pg_publication WHERE pubname = $1`, c.publication).Scan(&allTables)
	exists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("reading publication %s: %w", c.publication, err)
	}
	pub := pgsql.QuoteIdent(c.publication)
	list := func() string {
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = pgsql.QuoteIdent(t.schema, t.name)
		}
		return strings.Join(names, ", ")
	}
	switch c.publicationMode {
	case PublicationDisabled:
		if !exists {
			return fmt.Errorf("publication %s does not exist and %s is %s: create it (CREATE PUBLICATION %s FOR TABLE ...) or set %s to %s or %s",
				c.publication, ConfigPublicationMode, PublicationDisabled, pub, ConfigPublicationMode, PublicationAllTables, PublicationFiltered)
		}
	case PublicationAllTables:
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR ALL TABLES"); err != nil {
				return fmt.Errorf("creating publication %s FOR ALL TABLES: %w", c.publication, err)
			}
		}
	case PublicationFiltered:
		if len(tables) == 0 {
			return fmt.Errorf("%s=%s but no table matches %s/%s", ConfigPublicationMode, PublicationFiltered, ConfigTableInclude, ConfigTableExclude)
		}
		q := "CREATE PUBLICATION " + pub + " FOR TABLE " + list()
		if exists {
			if allTables {
				return fmt.Errorf("publication %s is FOR ALL TABLES and cannot be filtered; drop it or set %s=%s", c.publication, ConfigPublicationMode, PublicationAllTables)
			}
			q = "ALTER PUBLICATION " + pub + " SET TABLE " + list()
		}
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("publication %s: %w", c.publication, err)
		}
	}
	return nil
}

// slotInfo describes an existing replication slot.
type slotInfo struct {
	plugin, database string
	active           bool
	activePID        int32
	confirmedFlush   pglogrepl.LSN
}

// readSlot returns the slot, or nil if it does not exist.
func readSlot(ctx context.Context, conn *pgx.Conn, name string) (*slotInfo, error) {
	var s slotInfo
	var pid *int32
	var confirmed *string
	err := conn.QueryRow(ctx, `SELECT coalesce(plugin, ''), coalesce(database, ''), active, active_pid, confirmed_flush_lsn::text
		FROM pg_replication_slots WHERE slot_name = $1`, name).Scan(&s.plugin, &s.database, &s.active, &pid, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading replication slot %s: %w", name, err)
	}
	if pid != nil {
		s.activePID = *pid
	}
	if confirmed != nil {
		if s.confirmedFlush, err = pglogrepl.ParseLSN(*confirmed); err != nil {
			return nil, fmt.Errorf("replication slot %s: %w", name, err)
		}
	}
	return &s, nil
}

// waitSlotInactive waits (bounded) for a slot left active by a crashed predecessor: Postgres
// releases it once it notices the old connection is gone.
func waitSlotInactive(ctx context.Context, conn *pgx.Conn, name string, timeout time.Duration) (*slotInfo, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, err := readSlot(ctx, conn, name)
		if err != nil || s == nil || !s.active {
			return s, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("replication slot %s is in use by another connection (pid %d): is another connector using %s=%s?", name, s.activePID, ConfigSlotName, name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
