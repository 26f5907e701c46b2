package schemaregistry

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestFollowerForwardsWritesToThePrimary starts two instances on one _schemas topic: one is
// elected primary, a write sent to the other is forwarded and visible on both.
func TestFollowerForwardsWritesToThePrimary(t *testing.T) {
	b, a := startBrokerAndRegistry(t)
	c := startRegistry(t, b.Addr())
	var primary, follower *Server
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		_, _, aKnown := a.elector.primary()
		_, _, cKnown := c.elector.primary()
		if !aKnown || !cKnown {
			return fmt.Errorf("no primary known yet (a %v, c %v)", aKnown, cKnown)
		}
		urlA, _, _ := a.elector.primary()
		urlC, _, _ := c.elector.primary()
		if urlA != urlC || a.IsPrimary() == c.IsPrimary() {
			return fmt.Errorf("instances disagree: a says %s, c says %s", urlA, urlC)
		}
		return nil
	})
	primary, follower = a, c
	if c.IsPrimary() {
		primary, follower = c, a
	}
	st, body := call(t, "POST", follower.URL()+"/subjects/fwd-value/versions", ContentType, schemaBody("", userV1))
	if st != 200 || body != `{"id":1}` {
		t.Fatalf("write to follower: %d %s", st, body)
	}
	for _, s := range []*Server{follower, primary} {
		st, body := call(t, "GET", s.URL()+"/subjects/fwd-value/versions/1", "", "")
		if st != 200 {
			t.Fatalf("%s: not visible: %d %s", s.URL(), st, body)
		}
	}
	st, body = call(t, "PUT", follower.URL()+"/config", ContentType, `{"compatibility":"FULL"}`)
	if st != 200 {
		t.Fatalf("config via follower: %d %s", st, body)
	}
	if _, body := call(t, "GET", primary.URL()+"/config", "", ""); body != `{"compatibilityLevel":"FULL"}` {
		t.Fatalf("config on primary: %s", body)
	}

	// The primary leaves: the other instance takes over and accepts writes itself.
	primary.Close()
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if !follower.IsPrimary() {
			return fmt.Errorf("%s is not primary yet", follower.URL())
		}
		return nil
	})
	st, body = call(t, "POST", follower.URL()+"/subjects/fwd-value/versions", ContentType, schemaBody("", userV2))
	if st != 200 || body != `{"id":2}` {
		t.Fatalf("write after failover: %d %s", st, body)
	}
}

// TestRestartKeepsSchemasAndIds restarts the registry (and the broker): everything is rebuilt from
// the _schemas topic, and new schemas get new ids.
func TestRestartKeepsSchemasAndIds(t *testing.T) {
	b, s := startBrokerAndRegistry(t)
	for i, schema := range []string{userV1, userV2} {
		st, body := call(t, "POST", s.URL()+"/subjects/r-value/versions", ContentType, schemaBody("", schema))
		if st != 200 || body != fmt.Sprintf(`{"id":%d}`, i+1) {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	call(t, "POST", s.URL()+"/subjects/gone-value/versions", ContentType, schemaBody("", `"string"`))
	call(t, "DELETE", s.URL()+"/subjects/gone-value", "", "")
	call(t, "DELETE", s.URL()+"/subjects/gone-value?permanent=true", "", "")
	call(t, "PUT", s.URL()+"/config/r-value", ContentType, `{"compatibility":"FORWARD"}`)
	s.Close()
	b.Restart()

	s2 := startRegistry(t, b.Addr())
	st, body := call(t, "GET", s2.URL()+"/subjects/r-value/versions/2", "", "")
	if st != 200 || !strings.Contains(body, `"id":2`) || !strings.Contains(body, "email") {
		t.Fatalf("after restart: %d %s", st, body)
	}
	if _, body := call(t, "GET", s2.URL()+"/config/r-value", "", ""); body != `{"compatibilityLevel":"FORWARD"}` {
		t.Fatalf("config after restart: %s", body)
	}
	if _, body := call(t, "GET", s2.URL()+"/subjects?deleted=true", "", ""); body != `["r-value"]` {
		t.Fatalf("subjects after restart: %s", body)
	}
	st, body = call(t, "POST", s2.URL()+"/subjects/new-value/versions", ContentType, schemaBody("", `"bytes"`))
	// Ids 1-3 were handed out (3 then deleted permanently): the next is 4, never a reused one.
	if st != 200 || body != `{"id":4}` {
		t.Fatalf("a new schema after restart reused an id: %d %s", st, body)
	}
}
