package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connect/transforms"         // registers Kafka's single message transforms
	_ "github.com/gregor-streams/gregor/connectors/cron"            // registers CronQuerySource
	_ "github.com/gregor-streams/gregor/connectors/file"            // registers FileStreamSource and FileStreamSink
	_ "github.com/gregor-streams/gregor/connectors/postgres"        // registers PostgresCdcSource and PostgresSink
	_ "github.com/gregor-streams/gregor/schemaregistry/connectconv" // registers AvroConverter, JsonSchemaConverter, ProtobufConverter
)

const connectUsage = `Usage: gregor connect <subcommand>

Subcommands:
  standalone worker.properties connector.json|connector.properties ...
           run a standalone Connect worker (Kafka Connect's REST API on listeners,
           default http://127.0.0.1:8083) with the given connectors
  distributed worker.properties
           run a distributed Connect worker: workers sharing group.id share connectors,
           with configs, offsets and statuses in Kafka topics (see deploy/connect-distributed.properties)
  list     list connectors
  status [NAME]
           show connector and task states (every connector without NAME)
  create -f connector.json|connector.properties
           create a connector ({"name":...,"config":{...}} or a flat config with name)
  delete NAME
           delete a connector
  restart NAME [--include-tasks] [--only-failed]
           restart a connector (and its tasks)
  pause NAME, resume NAME
           pause or resume a connector and its tasks
  plugins  list the installed connector plugins
  --check-config worker.properties
           parse a standalone (no group.id) or distributed worker config, print the
           effective settings and exit (1 with the offending key if it is invalid)

Every subcommand but standalone and distributed talks to a worker's REST API: --connect-url, default ` + defaultConnectURL + `
(the worker ` + "`gregor dev`" + ` starts).
`

// defaultConnectURL is where the connect client subcommands find a worker unless told.
const defaultConnectURL = "http://127.0.0.1:8083"

// runConnect is `gregor connect <subcommand>`.
func runConnect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "--check-config" || args[0] == "-check-config") {
		if len(args) != 2 {
			return usageErrorf("connect --check-config: exactly one worker.properties file is required")
		}
		return checkConnectConfig(args[1], stdout)
	}
	return runSubcommand(ctx, "connect", connectUsage, map[string]subcommand{
		"standalone":  runConnectStandalone,
		"distributed": runConnectDistributed,
		"list":        runConnectList,
		"status":      runConnectStatus,
		"create":      runConnectCreate,
		"delete":      runConnectDelete,
		"restart":     runConnectRestart,
		"pause":       runConnectPause,
		"resume":      runConnectResume,
		"plugins":     runConnectPlugins,
	}, args, stdout, stderr)
}

// runConnectStandalone is connect-standalone.sh: a worker config, then connector configs.
func runConnectStandalone(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if isHelp(args) {
		fmt.Fprint(stdout, connectUsage)
		return nil
	}
	if len(args) < 1 {
		fmt.Fprint(stderr, connectUsage)
		return usageErrorf("connect standalone: a worker.properties file is required")
	}
	props, err := readPropertiesFile(args[0])
	if err != nil {
		return err
	}
	var connectors []connectorFile
	for _, path := range args[1:] {
		c, err := readConnectorFile(path)
		if err != nil {
			return err
		}
		connectors = append(connectors, c)
	}
	// The text handler takes every level; the worker's loggers (GET/PUT /admin/loggers) filter.
	loggers := connect.NewLoggers(slog.LevelInfo)
	logger := slog.New(loggers.Handler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug - 4})))
	r, err := connect.RunStandalone(ctx, props, connect.Options{Logger: logger, Loggers: loggers})
	if err != nil {
		return err
	}
	defer r.Close()
	for _, c := range connectors {
		if _, _, err := r.Herder.PutConnectorConfig(c.name, c.config, false, connect.TargetStarted); err != nil {
			return fmt.Errorf("connector %s: %w", c.name, err)
		}
		logger.Info("connector created", "name", c.name)
	}
	fmt.Fprintf(stdout, "Connect worker listening on http://%s\n", r.Addr)
	<-ctx.Done()
	return nil
}

// runConnectDistributed is connect-distributed.sh: one worker config; connectors are then created
// through the REST API of any worker.
func runConnectDistributed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if isHelp(args) {
		fmt.Fprint(stdout, connectUsage)
		return nil
	}
	if len(args) != 1 {
		fmt.Fprint(stderr, connectUsage)
		return usageErrorf("connect distributed: exactly one worker.properties file is required")
	}
	props, err := readPropertiesFile(args[0])
	if err != nil {
		return err
	}
	// The text handler takes every level; the worker's loggers (GET/PUT /admin/loggers) filter.
	loggers := connect.NewLoggers(slog.LevelInfo)
	logger := slog.New(loggers.Handler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug - 4})))
	r, err := connect.RunDistributed(ctx, props, connect.Options{Logger: logger, Loggers: loggers})
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Fprintf(stdout, "Connect worker %s listening on http://%s\n", r.WorkerID, r.Addr)
	<-ctx.Done()
	return nil
}

type connectorFile struct {
	name   string
	config map[string]string
}

func readPropertiesFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	props, err := config.ReadProperties(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return props, nil
}

// readConnectorFile reads a connector config like Kafka's tools accept: a .properties file, or JSON
// either as {"name": ..., "config": {...}} (the REST body) or as a flat object with "name".
func readConnectorFile(path string) (connectorFile, error) {
	if !strings.HasSuffix(path, ".json") {
		props, err := readPropertiesFile(path)
		if err != nil {
			return connectorFile{}, err
		}
		if props["name"] == "" {
			return connectorFile{}, fmt.Errorf("%s: no name", path)
		}
		return connectorFile{name: props["name"], config: props}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return connectorFile{}, err
	}
	var wrapped struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	if err := json.Unmarshal(data, &wrapped); err == nil && wrapped.Config != nil {
		if wrapped.Name == "" {
			wrapped.Name = wrapped.Config["name"]
		}
		if wrapped.Name == "" {
			return connectorFile{}, fmt.Errorf("%s: no name", path)
		}
		return connectorFile{name: wrapped.Name, config: wrapped.Config}, nil
	}
	var flat map[string]string
	if err := json.Unmarshal(data, &flat); err != nil {
		return connectorFile{}, fmt.Errorf("%s: %w", path, err)
	}
	if flat["name"] == "" {
		return connectorFile{}, fmt.Errorf("%s: no name", path)
	}
	return connectorFile{name: flat["name"], config: flat}, nil
}

// connectClient calls a Connect worker's REST API.
type connectClient struct {
	base string
	http *http.Client
}

// connectFlags registers --connect-url on a new flag set for `gregor connect <name>`.
func connectFlags(name, usageLine string) (*flagSet, *string) {
	fs := newFlagSet("connect "+name, "gregor connect "+strings.TrimPrefix(usageLine, "connect "))
	base := fs.String("connect-url", defaultConnectURL, "Connect worker REST `URL`")
	return fs, base
}

func newConnectClient(base string) (*connectClient, error) {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	if base == "" {
		return nil, usageErrorf("--connect-url is empty")
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &connectClient{base: base, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// restError is a Kafka Connect REST error: `404: Connector x not found`.
type restError struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func (e *restError) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Message) }

// do sends method path with body (JSON-encoded unless nil) and decodes a 2xx reply into out (if
// non-nil and the reply has a body). It returns the status code.
func (c *connectClient) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reaching the Connect worker at %s (is `gregor dev` running? see --connect-url): %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: reading reply: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var re restError
		if json.Unmarshal(data, &re) == nil && re.Message != "" {
			if re.Code == 0 {
				re.Code = resp.StatusCode
			}
			return resp.StatusCode, &re
		}
		return resp.StatusCode, &restError{Code: resp.StatusCode, Message: strings.TrimSpace(resp.Status + " " + string(data))}
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding reply: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func connectorPath(name string, rest string) string {
	return "/connectors/" + url.PathEscape(name) + rest
}

// parseConnectArgs parses a client subcommand's flags and wants minArgs to nArgs positional
// arguments (connector names, never empty).
func parseConnectArgs(fs *flagSet, base *string, args []string, minArgs, nArgs int, stdout, stderr io.Writer) (*connectClient, []string, error) {
	pos, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) < minArgs {
		printFlagUsage(fs, stderr)
		return nil, nil, usageErrorf("%s: a connector name is required", fs.Name())
	}
	if len(pos) > nArgs {
		return nil, nil, usageErrorf("unexpected argument %q", pos[nArgs])
	}
	if slices.Contains(pos, "") {
		return nil, nil, usageErrorf("%s: the connector name is empty", fs.Name())
	}
	c, err := newConnectClient(*base)
	return c, pos, err
}

func runConnectList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, base := connectFlags("list", "connect list [--connect-url URL]")
	c, _, err := parseConnectArgs(fs, base, args, 0, 0, stdout, stderr)
	if err != nil {
		return err
	}
	var names []string
	if _, err := c.do(ctx, http.MethodGet, "/connectors", nil, &names); err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return nil
}

func runConnectStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, base := connectFlags("status", "connect status [NAME] [--connect-url URL]")
	c, pos, err := parseConnectArgs(fs, base, args, 0, 1, stdout, stderr)
	if err != nil {
		return err
	}
	var statuses []connect.ConnectorStatus
	if len(pos) == 1 {
		var st connect.ConnectorStatus
		if _, err := c.do(ctx, http.MethodGet, connectorPath(pos[0], "/status"), nil, &st); err != nil {
			return err
		}
		statuses = append(statuses, st)
	} else {
		var all map[string]struct {
			Status connect.ConnectorStatus `json:"status"`
		}
		if _, err := c.do(ctx, http.MethodGet, "/connectors?expand=status", nil, &all); err != nil {
			return err
		}
		for _, n := range slices.Sorted(maps.Keys(all)) {
			statuses = append(statuses, all[n].Status)
		}
	}
	printConnectorStatuses(stdout, statuses)
	return nil
}

// printConnectorStatuses prints a table of connectors, each followed by its tasks; a FAILED
// connector or task shows the first line of its trace.
func printConnectorStatuses(w io.Writer, statuses []connect.ConnectorStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTOR\tSTATE\tTASKS\tWORKER")
	for _, st := range statuses {
		running := 0
		for _, t := range st.Tasks {
			if t.State == connect.StateRunning {
				running++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d running\t%s\n", st.Name, st.Connector.State, running, len(st.Tasks), st.Connector.WorkerID)
		if st.Connector.State == connect.StateFailed && st.Connector.Trace != "" {
			// NB: no tabs, so a long trace does not widen the columns.
			fmt.Fprintf(tw, "  trace: %s\n", firstLine(st.Connector.Trace))
		}
		for _, t := range st.Tasks {
			fmt.Fprintf(tw, "  task %d\t%s\t\t%s\n", t.ID, t.State, t.WorkerID)
			if t.State == connect.StateFailed && t.Trace != "" {
				fmt.Fprintf(tw, "    trace: %s\n", firstLine(t.Trace))
			}
		}
	}
	tw.Flush()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func runConnectCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, base := connectFlags("create", "connect create -f connector.json|connector.properties [--connect-url URL]")
	file := fs.String("f", "", "connector config `file`: JSON ({\"name\",\"config\"} or a flat config with name) or .properties")
	c, _, err := parseConnectArgs(fs, base, args, 0, 0, stdout, stderr)
	if err != nil {
		return err
	}
	if *file == "" {
		printFlagUsage(fs, stderr)
		return usageErrorf("connect create: -f is required")
	}
	cf, err := readConnectorFile(*file)
	if err != nil {
		return err
	}
	var info connect.ConnectorInfo
	if _, err := c.do(ctx, http.MethodPost, "/connectors", map[string]any{"name": cf.name, "config": cf.config}, &info); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created connector %s (%s, %d task(s)).\n", info.Name, info.Type, len(info.Tasks))
	for _, k := range slices.Sorted(maps.Keys(info.Config)) {
		fmt.Fprintf(stdout, "  %s=%s\n", k, maskSecret(k, info.Config[k]))
	}
	return nil
}

// hiddenValue is what Kafka prints in place of a password.
const hiddenValue = "[hidden]"

// maskSecret returns value as it may be printed: "[hidden]" for a key naming a password or
// secret (database.password, *.secret, ssl.key.password, ...), and a URL's password masked in
// any other value (connection.url=postgres://u:[hidden]@host/db).
func maskSecret(key, value string) string {
	lower := strings.ToLower(key)
	if strings.Contains(lower, "password") || strings.Contains(lower, "secret") {
		return hiddenValue
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
			return strings.Replace(u.String(), "REDACTED", hiddenValue, 1)
		}
	}
	return value
}

func runConnectDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, base := connectFlags("delete", "connect delete NAME [--connect-url URL]")
	c, pos, err := parseConnectArgs(fs, base, args, 1, 1, stdout, stderr)
	if err != nil {
		return err
	}
	if _, err := c.do(ctx, http.MethodDelete, connectorPath(pos[0], ""), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Deleted connector %s.\n", pos[0])
	return nil
}

func runConnectRestart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, base := connectFlags("restart", "connect restart NAME [--include-tasks] [--only-failed] [--connect-url URL]")
	includeTasks := fs.Bool("include-tasks", false, "restart the connector's tasks too")
	onlyFailed := fs.Bool("only-failed", false, "restart only the connector and tasks that are FAILED")
	c, pos, err := parseConnectArgs(fs, base, args, 1, 1, stdout, stderr)
	if err != nil {
		return err
	}
	q := url.Values{}
	q.Set("includeTasks", strconv.FormatBool(*includeTasks))
	q.Set("onlyFailed", strconv.FormatBool(*onlyFailed))
	var st connect.ConnectorStatus
	code, err := c.do(ctx, http.MethodPost, connectorPath(pos[0], "/restart?"+q.Encode()), nil, &st)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Restarted connector %s.\n", pos[0])
	if code == http.StatusAccepted && st.Name != "" {
		printConnectorStatuses(stdout, []connect.ConnectorStatus{st})
	}
	return nil
}

func runConnectPause(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return connectSetState(ctx, "pause", "Paused", args, stdout, stderr)
}

func runConnectResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return connectSetState(ctx, "resume", "Resumed", args, stdout, stderr)
}

func connectSetState(ctx context.Context, verb, done string, args []string, stdout, stderr io.Writer) error {
	fs, base := connectFlags(verb, "connect "+verb+" NAME [--connect-url URL]")
	c, pos, err := parseConnectArgs(fs, base, args, 1, 1, stdout, stderr)
	if err != nil {
		return err
	}
	if _, err := c.do(ctx, http.MethodPut, connectorPath(pos[0], "/"+verb), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s connector %s.\n", done, pos[0])
	return nil
}

func runConnectPlugins(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, base := connectFlags("plugins", "connect plugins [--connect-url URL]")
	c, _, err := parseConnectArgs(fs, base, args, 0, 0, stdout, stderr)
	if err != nil {
		return err
	}
	var plugins []struct {
		Class   string `json:"class"`
		Type    string `json:"type"`
		Version string `json:"version"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/connector-plugins", nil, &plugins); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tTYPE\tVERSION\tALSO KNOWN AS")
	for _, p := range plugins {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Class, p.Type, p.Version, pluginAliases(p.Class))
	}
	return tw.Flush()
}

// pluginAliases lists the short names a connector.class may use for class, as this binary's
// registry knows them (the worker's REST API lists classes only, as Kafka's does).
func pluginAliases(class string) string {
	p, ok := connect.DefaultRegistry.Lookup(class)
	if !ok {
		return "-"
	}
	names := slices.Clone(p.Aliases)
	if len(names) == 0 {
		simple := strings.TrimSuffix(class[strings.LastIndex(class, ".")+1:], "Connector")
		if simple != class {
			names = append(names, simple)
		}
	}
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ", ")
}
