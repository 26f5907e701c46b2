package schemaregistry

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const (
	userV1 = `{"type":"record","name":"User","namespace":"com.example","fields":[{"name":"id","type":"long"}]}`
	userV2 = `{"type":"record","name":"User","namespace":"com.example","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null}]}`
	// userBad adds a field without a default: a reader of userBad cannot read userV1 data.
	userBad = `{"type":"record","name":"User","namespace":"com.example","fields":[{"name":"id","type":"long"},{"name":"age","type":"int"}]}`
)

// expect checks a call's status and, for errors, Confluent's error code.
func expect(t *testing.T, status int, body string, wantStatus, wantCode int) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	if wantCode != 0 {
		if got := errorCode(t, body); got != wantCode {
			t.Fatalf("error_code %d, want %d: %s", got, wantCode, body)
		}
	}
}

func TestRegistryRESTAPIFollowsConfluent(t *testing.T) {
	_, s := startBrokerAndRegistry(t)
	u := s.URL()
	ct := ContentType

	st, body := call(t, "POST", u+"/subjects/users-value/versions", ct, schemaBody("", userV1))
	expect(t, st, body, 200, 0)
	if body != `{"id":1}` {
		t.Fatalf("register: %s", body)
	}
	// The same schema, spaced differently, gets the same id and no new version.
	st, body = call(t, "POST", u+"/subjects/users-value/versions", "application/json",
		schemaBody("", strings.ReplaceAll(userV1, ",", ", ")))
	if st != 200 || body != `{"id":1}` {
		t.Fatalf("re-register: %d %s", st, body)
	}
	// The same schema under another subject reuses the id.
	st, body = call(t, "POST", u+"/subjects/other-value/versions", "application/octet-stream", schemaBody("", userV1))
	if st != 200 || body != `{"id":1}` {
		t.Fatalf("other subject: %d %s", st, body)
	}
	st, body = call(t, "POST", u+"/subjects/users-value/versions", ct, schemaBody("AVRO", userV2))
	if st != 200 || body != `{"id":2}` {
		t.Fatalf("v2: %d %s", st, body)
	}
	// A field without a default breaks BACKWARD: 409, the rule named.
	st, body = call(t, "POST", u+"/subjects/users-value/versions", ct, schemaBody("", userBad))
	expect(t, st, body, 409, 409)
	if !strings.Contains(body, "READER_FIELD_MISSING_DEFAULT_VALUE") {
		t.Fatalf("409 does not name the rule: %s", body)
	}

	st, body = call(t, "GET", u+"/subjects", "", "")
	if st != 200 || body != `["other-value","users-value"]` {
		t.Fatalf("subjects: %d %s", st, body)
	}
	st, body = call(t, "GET", u+"/subjects/users-value/versions", "", "")
	if body != `[1,2]` {
		t.Fatalf("versions: %d %s", st, body)
	}
	for _, v := range []string{"2", "latest", "-1"} {
		st, body = call(t, "GET", u+"/subjects/users-value/versions/"+v, "", "")
		if st != 200 || !strings.Contains(body, `"version":2`) || !strings.Contains(body, `"id":2`) {
			t.Fatalf("version %s: %d %s", v, st, body)
		}
	}
	_, body = call(t, "GET", u+"/subjects/users-value/versions/1/schema", "", "")
	if body != userV1 {
		t.Fatalf("raw schema: %s", body)
	}
	st, body = call(t, "GET", u+"/schemas/ids/2", "", "")
	if st != 200 || !strings.Contains(body, "email") {
		t.Fatalf("by id: %d %s", st, body)
	}
	_, body = call(t, "GET", u+"/schemas/ids/1/subjects", "", "")
	if body != `["other-value","users-value"]` {
		t.Fatalf("subjects of id: %s", body)
	}
	_, body = call(t, "GET", u+"/schemas/ids/1/versions", "", "")
	if body != `[{"subject":"other-value","version":1},{"subject":"users-value","version":1}]` {
		t.Fatalf("versions of id: %s", body)
	}
	st, body = call(t, "POST", u+"/subjects/users-value", ct, schemaBody("", userV2))
	if st != 200 || !strings.Contains(body, `"version":2`) {
		t.Fatalf("lookup: %d %s", st, body)
	}
	if _, body = call(t, "GET", u+"/contexts", "", ""); body != `["."]` {
		t.Fatalf("contexts: %s", body)
	}
	_, body = call(t, "GET", u+"/schemas/types", "", "")
	if body != `["JSON","PROTOBUF","AVRO"]` {
		t.Fatalf("types: %s", body)
	}

	// Errors, each with Confluent's code.
	for _, c := range []struct {
		method, path, ct, body string
		status, code           int
	}{
		{"GET", "/subjects/nope/versions", "", "", 404, 40401},
		{"GET", "/subjects/users-value/versions/9", "", "", 404, 40402},
		{"GET", "/subjects/users-value/versions/zero", "", "", 422, 42202},
		{"GET", "/subjects/users-value/versions/0", "", "", 422, 42202},
		{"GET", "/schemas/ids/99", "", "", 404, 40403},
		{"POST", "/subjects/users-value", ct, schemaBody("", `"string"`), 404, 40403},
		{"POST", "/subjects/nope", ct, schemaBody("", `"string"`), 404, 40401},
		{"POST", "/subjects/x/versions", ct, schemaBody("", `{"type":"record"`), 422, 42201},
		{"POST", "/subjects/x/versions", ct, schemaBody("", `{"type":"nosuchtype"}`), 422, 42201},
		{"POST", "/subjects/x/versions", ct, schemaBody("XML", `<a/>`), 422, 42201},
		{"POST", "/subjects/x/versions", ct, schemaBody("", ``), 422, 42201},
		{"POST", "/subjects/x/versions", ct, `{not json`, 400, 400},
		{"POST", "/subjects/x/versions", "text/plain", schemaBody("", `"string"`), 415, 415},
		{"POST", "/subjects/x/versions", ct, `{"schema":"` + strings.Repeat("a", 17<<20) + `"}`, 413, 413},
		{"PUT", "/config", ct, `{"compatibility":"SIDEWAYS"}`, 422, 42203},
		{"PUT", "/mode", ct, `{"mode":"SOMETIMES"}`, 422, 42204},
		{"GET", "/config/users-value", "", "", 404, 40408},
		{"GET", "/mode/users-value", "", "", 404, 40409},
		{"DELETE", "/subjects/users-value/versions/1?permanent=true", "", "", 404, 40407},
		{"DELETE", "/subjects/users-value?permanent=true", "", "", 404, 40405},
	} {
		st, body := call(t, c.method, u+c.path, c.ct, c.body)
		if st != c.status || errorCode(t, body) != c.code {
			t.Errorf("%s %s: %d %s, want %d/%d", c.method, c.path, st, body, c.status, c.code)
		}
	}
	// None of the bad requests changed anything.
	if _, body := call(t, "GET", u+"/subjects?deleted=true", "", ""); body != `["other-value","users-value"]` {
		t.Fatalf("bad input changed subjects: %s", body)
	}
	if s.state.nextID() != 3 {
		t.Fatalf("bad input consumed ids: next %d", s.state.nextID())
	}

	// Config and mode.
	_, body = call(t, "GET", u+"/config", "", "")
	if body != `{"compatibilityLevel":"BACKWARD"}` {
		t.Fatalf("config: %s", body)
	}
	st, body = call(t, "PUT", u+"/config/users-value", ct, `{"compatibility":"none"}`)
	if st != 200 || body != `{"compatibility":"NONE"}` {
		t.Fatalf("put config: %d %s", st, body)
	}
	st, body = call(t, "POST", u+"/subjects/users-value/versions", ct, schemaBody("", userBad))
	if st != 200 || body != `{"id":3}` {
		t.Fatalf("NONE allows any change: %d %s", st, body)
	}
	st, body = call(t, "PUT", u+"/mode/users-value", ct, `{"mode":"READONLY"}`)
	if st != 200 {
		t.Fatalf("mode: %d %s", st, body)
	}
	st, body = call(t, "POST", u+"/subjects/users-value/versions", ct, schemaBody("", `{"type":"record","name":"User","namespace":"com.example","fields":[]}`))
	expect(t, st, body, 422, 42205)
	call(t, "DELETE", u+"/mode/users-value", "", "")

	// Compatibility endpoint, verbose.
	call(t, "DELETE", u+"/config/users-value", "", "")
	st, body = call(t, "POST", u+"/compatibility/subjects/users-value/versions/1?verbose=true", ct,
		schemaBody("", `{"type":"record","name":"User","namespace":"com.example","fields":[{"name":"id","type":"string"}]}`))
	if st != 200 || !strings.Contains(body, `"is_compatible":false`) || !strings.Contains(body, "TYPE_MISMATCH") {
		t.Fatalf("compatibility: %d %s", st, body)
	}
	st, body = call(t, "POST", u+"/compatibility/subjects/brand-new/versions/latest", ct, schemaBody("", userV1))
	if st != 200 || body != `{"is_compatible":true}` {
		t.Fatalf("compatibility of a new subject: %d %s", st, body)
	}

	// Soft then permanent deletes, with Confluent's rules.
	st, body = call(t, "DELETE", u+"/subjects/users-value/versions/1", "", "")
	if st != 200 || body != "1" {
		t.Fatalf("soft delete: %d %s", st, body)
	}
	st, body = call(t, "DELETE", u+"/subjects/users-value/versions/1", "", "")
	expect(t, st, body, 404, 40406)
	if _, body = call(t, "GET", u+"/subjects/users-value/versions", "", ""); body != `[2,3]` {
		t.Fatalf("after soft delete: %s", body)
	}
	if _, body = call(t, "GET", u+"/subjects/users-value/versions?deleted=true", "", ""); body != `[1,2,3]` {
		t.Fatalf("deleted=true: %s", body)
	}
	st, body = call(t, "DELETE", u+"/subjects/users-value/versions/1?permanent=true", "", "")
	if st != 200 || body != "1" {
		t.Fatalf("permanent delete: %d %s", st, body)
	}
	// id 1 is still used by other-value.
	if st, _ = call(t, "GET", u+"/schemas/ids/1", "", ""); st != 200 {
		t.Fatalf("id 1 gone while other-value uses it")
	}
	st, body = call(t, "DELETE", u+"/subjects/users-value", "", "")
	if st != 200 || body != `[2,3]` {
		t.Fatalf("soft delete subject: %d %s", st, body)
	}
	st, body = call(t, "DELETE", u+"/subjects/users-value", "", "")
	expect(t, st, body, 404, 40404)
	if _, body = call(t, "GET", u+"/subjects", "", ""); body != `["other-value"]` {
		t.Fatalf("subjects after delete: %s", body)
	}
	st, body = call(t, "DELETE", u+"/subjects/users-value?permanent=true", "", "")
	if st != 200 || body != `[2,3]` {
		t.Fatalf("permanent delete subject: %d %s", st, body)
	}
	if _, body = call(t, "GET", u+"/subjects?deleted=true", "", ""); body != `["other-value"]` {
		t.Fatalf("subjects after permanent delete: %s", body)
	}
	// Ids are not reused: a new schema gets a new id.
	st, body = call(t, "POST", u+"/subjects/users-value/versions", ct, schemaBody("", `"string"`))
	if st != 200 || body != fmt.Sprintf(`{"id":%d}`, 4) {
		t.Fatalf("after deletes: %d %s", st, body)
	}
	// A subject name with a slash and spaces, URL-encoded as clients send it.
	st, body = call(t, "POST", u+"/subjects/team%2Forders%20v1/versions", ct, schemaBody("", `"long"`))
	if st != 200 {
		t.Fatalf("encoded subject: %d %s", st, body)
	}
	if _, body = call(t, "GET", u+"/subjects?subjectPrefix=team", "", ""); body != `["team/orders v1"]` {
		t.Fatalf("encoded subject listed as %s", body)
	}
	if st, _ = call(t, "GET", u+"/", "", ""); st != http.StatusOK {
		t.Fatalf("root: %d", st)
	}
}
