package connect_test

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// badInputCases are requests Kafka Connect refuses with 400 naming the field: a connector without a
// usable class, names that carry control characters or could not be addressed in a path, and paths
// that navigate instead of naming.
var badInputCases = []struct {
	name, method, path, body string
	message                  kind
}{
	{"empty connector.class", "POST", "/connectors", `{"name":"a","config":{"connector.class":"","topic":"t"}}`, containing("connector.class")},
	{"null connector.class", "POST", "/connectors", `{"name":"a","config":{"connector.class":null,"topic":"t"}}`, containing("connector.class")},
	{"missing connector.class", "POST", "/connectors", `{"name":"a","config":{"topic":"t"}}`, containing("connector.class")},
	{"PUT with empty connector.class", "PUT", "/connectors/a/config", `{"connector.class":""}`, containing("connector.class")},
	{"name with a newline", "POST", "/connectors", `{"name":"a\nb","config":{"connector.class":"CountSource","topic":"t"}}`, containing("name", "control characters")},
	{"name with NUL", "POST", "/connectors", `{"name":"a\u0000b","config":{"connector.class":"CountSource","topic":"t"}}`, containing("name", "control characters")},
	{"name with a C1 control", "POST", "/connectors", `{"name":"a\u0085b","config":{"connector.class":"CountSource","topic":"t"}}`, containing("name", "control characters")},
	{"PUT to a name with a newline", "PUT", "/connectors/" + url.PathEscape("a\nb") + "/config", `{"connector.class":"CountSource","topic":"t"}`, containing("name", "control characters")},
	{"name .", "POST", "/connectors", `{"name":".","config":{"connector.class":"CountSource","topic":"t"}}`, containing("name", `"."`)},
	{"name ..", "POST", "/connectors", `{"name":"..","config":{"connector.class":"CountSource","topic":"t"}}`, containing("name", `".."`)},
	{"path climbing out of a name", "PUT", "/connectors/../connectors/evil/config", `{"connector.class":"CountSource","topic":"t"}`, containing("path", `".."`)},
	{"escaped path climbing out of a name", "PUT", "/connectors/%2E%2E/connectors/evil/config", `{"connector.class":"CountSource","topic":"t"}`, containing("path", `".."`)},
	{"dot segment before a name", "GET", "/connectors/./keep", ``, containing("path", `"."`)},
	{"empty segment", "GET", "/connectors//keep", ``, containing("path", "empty segment")},
}

// checkBadInputRefused runs badInputCases against a worker that has one connector, keep, and checks
// that each is refused with 400 (never a redirect), that nothing else was created, and that listing
// with expand=status still answers for every connector.
func checkBadInputRefused(t *testing.T, c restClient) {
	t.Helper()
	keep := c.expect(200, "GET", "/connectors/keep", "")
	for _, tc := range badInputCases {
		t.Run(tc.name, func(t *testing.T) {
			c := restClient{t: t, base: c.base}
			c.check(400, tc.method, tc.path, tc.body, errorBody(400, tc.message))
		})
	}
	c.check(200, "GET", "/connectors", "", arr("keep"))
	if got := c.expect(200, "GET", "/connectors/keep", ""); !reflect.DeepEqual(got, keep) {
		t.Fatalf("a rejected request changed the connector: %s, was %s", mustJSON(got), mustJSON(keep))
	}
	st := c.expect(200, "GET", "/connectors?expand=status&expand=info", "")
	if field(st, "keep", "status", "name") != "keep" || field(st, "keep", "info", "name") != "keep" {
		t.Fatalf("expand=status,info after rejected requests: %s", mustJSON(st))
	}
}

func TestStandaloneRESTRefusesConnectorsWithoutClassOrAddressableNameAndUncleanPaths(t *testing.T) {
	c, _ := contractWorker(t)
	c.expect(201, "POST", "/connectors", `{"name":"keep","config":{"connector.class":"CountSource","topic":"t"}}`)
	checkBadInputRefused(t, c)
}

func TestDistributedRESTRefusesConnectorsWithoutClassOrAddressableNameAndUncleanPaths(t *testing.T) {
	tb := startDistBroker(t)
	w := startDistWorker(t, tb, testRegistry(t), "badinput")
	c := restOf(t, w)
	writeRetrying(c, 201, "POST", "/connectors", `{"name":"keep","config":{"connector.class":"CountSource","topic":"t"}}`)
	// Writes answer 409 until the rebalance the new connector causes is over.
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if _, running := workersOf(c, "keep"); !running {
			return errors.New("connector keep and its task are not RUNNING yet")
		}
		return nil
	})
	checkBadInputRefused(t, c)
	// Nothing of the refused requests reached the config topic.
	for k := range topicRecords(t, tb, "badinput-configs") {
		if !strings.HasSuffix(k, "-keep") && !strings.Contains(k, "-keep-") {
			t.Errorf("config topic has a record for a refused request: key %q", k)
		}
	}
}

// panickyConfigDef is a plugin whose ConfigDef panics: a bug in a plugin, reached by a request.
type panickyConfigDef struct{ countSource }

func (*panickyConfigDef) ConfigDef() *connect.ConfigDef { panic("plugin bug") }

func TestRESTHandlerPanicAnswers500AndLeavesNoConnectorBehind(t *testing.T) {
	c, w := contractWorker(t)
	if err := w.Herder.Registry().Register(connect.Plugin{Class: "com.example.PanickySourceConnector", Type: connect.PluginSource, Version: "1.0",
		New: func() connect.Connector { return &panickyConfigDef{} }}); err != nil {
		t.Fatal(err)
	}
	c.check(http.StatusInternalServerError, "POST", "/connectors", `{"name":"p","config":{"connector.class":"com.example.PanickySourceConnector","topic":"t"}}`,
		errorBody(500, containing("plugin bug")))
	c.check(200, "GET", "/connectors", "", arr())
	c.check(200, "GET", "/connectors?expand=status", "", obj{})
	c.expect(404, "GET", "/connectors/p", "")
}
