package schemaregistry

import (
	"fmt"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestImportModeKeepsGivenIdsAndVersions: in IMPORT mode (how schemas move between registries) a
// schema keeps the id and version it is given, and new ids continue after the highest.
func TestImportModeKeepsGivenIdsAndVersions(t *testing.T) {
	_, s := startBrokerAndRegistry(t)
	u := s.URL()
	st, body := call(t, "POST", u+"/subjects/a/versions", ContentType, `{"schema":"\"string\"","id":100}`)
	expect(t, st, body, 422, codeOperationNotPermitted)
	if st, body = call(t, "PUT", u+"/mode", ContentType, `{"mode":"IMPORT"}`); st != 200 {
		t.Fatalf("import mode: %d %s", st, body)
	}
	st, body = call(t, "POST", u+"/subjects/a/versions", ContentType, `{"schema":"\"string\"","id":100,"version":3}`)
	if st != 200 || body != `{"id":100}` {
		t.Fatalf("import: %d %s", st, body)
	}
	st, body = call(t, "POST", u+"/subjects/b/versions", ContentType, `{"schema":"\"bytes\"","id":100,"version":1}`)
	expect(t, st, body, 422, codeOperationNotPermitted) // id 100 is another schema
	if _, body = call(t, "GET", u+"/subjects/a/versions", "", ""); body != `[3]` {
		t.Fatalf("versions: %s", body)
	}
	call(t, "PUT", u+"/mode", ContentType, `{"mode":"READWRITE"}`)
	st, body = call(t, "PUT", u+"/mode", ContentType, `{"mode":"IMPORT"}`)
	expect(t, st, body, 422, codeOperationNotPermitted) // subjects exist: needs force
	if st, _ = call(t, "PUT", u+"/mode?force=true", ContentType, `{"mode":"IMPORT"}`); st != 200 {
		t.Fatalf("forced import mode: %d", st)
	}
	call(t, "PUT", u+"/mode", ContentType, `{"mode":"READWRITE"}`)
	if st, body = call(t, "POST", u+"/subjects/c/versions", ContentType, `{"schema":"\"long\""}`); body != `{"id":101}` {
		t.Fatalf("after import: %d %s", st, body)
	}
}

// TestNotEligibleInstanceNeverBecomesPrimary: with leader eligibility off an instance only
// forwards writes to the eligible one.
func TestNotEligibleInstanceNeverBecomesPrimary(t *testing.T) {
	b, eligible := startBrokerAndRegistry(t)
	follower := startRegistry(t, b.Addr(), func(c *Config) { c.NotLeaderEligible = true })
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if url, _, known := follower.elector.primary(); !known || url != eligible.URL() {
			return fmt.Errorf("follower sees primary %q (known %v)", url, known)
		}
		return nil
	})
	if st, body := call(t, "POST", follower.URL()+"/subjects/x/versions", ContentType, schemaBody("", `"string"`)); st != 200 {
		t.Fatalf("forwarded write: %d %s", st, body)
	}
	if follower.IsPrimary() {
		t.Fatal("an ineligible instance is primary")
	}
}
