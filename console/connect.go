package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
)

// connectCall calls Connect's REST API: method, path (with query) and an optional JSON body. A
// Connect error ({"error_code", "message"}) keeps its status and message; no --connect-url or an
// unreachable worker is 503 saying so.
func (s *Server) connectCall(ctx context.Context, method, path string, body any, out any) error {
	if s.opts.ConnectURL == "" {
		return errUnavailable("Kafka Connect is not configured: start the console with --connect-url")
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return errBadRequest("connector request: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.opts.ConnectURL+path, rd)
	if err != nil {
		return errBadRequest("connector request: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return errUnavailable("Kafka Connect at %s is unreachable: %v", s.opts.ConnectURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return errUnavailable("Kafka Connect at %s: reading the answer: %v", s.opts.ConnectURL, err)
	}
	if resp.StatusCode >= 300 {
		var ce struct {
			Message string `json:"message"`
		}
		msg := string(data)
		if json.Unmarshal(data, &ce) == nil && ce.Message != "" {
			msg = ce.Message
		}
		st := resp.StatusCode
		if st >= 500 {
			st = http.StatusBadGateway
		}
		return &apiError{st, "Kafka Connect: " + msg}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return &apiError{http.StatusBadGateway, fmt.Sprintf("Kafka Connect answered %s %s with invalid JSON: %v", method, path, err)}
		}
	}
	return nil
}

// connectorStatus is Connect's GET /connectors/{name}/status.
type connectorStatus struct {
	Name      string `json:"name"`
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace,omitempty"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace,omitempty"`
	} `json:"tasks"`
	Type string `json:"type"`
}

// connectorExpanded is one entry of GET /connectors?expand=status&expand=info.
type connectorExpanded struct {
	Status connectorStatus `json:"status"`
	Info   struct {
		Config map[string]string `json:"config"`
		Type   string            `json:"type"`
	} `json:"info"`
}

// connectSummary is the overview's connectors part; it never fails, it says what is wrong.
func (s *Server) connectSummary(r *http.Request) map[string]any {
	out := map[string]any{"configured": s.opts.ConnectURL != "", "url": s.opts.ConnectURL}
	var all map[string]connectorExpanded
	if err := s.connectCall(r.Context(), "GET", "/connectors?expand=status&expand=info", nil, &all); err != nil {
		out["available"], out["error"] = false, err.Error()
		return out
	}
	states := map[string]int{}
	for _, c := range all {
		states[c.Status.Connector.State]++
	}
	out["available"], out["connectors"], out["states"] = true, len(all), states
	return out
}

// listConnectors is GET /api/connectors: every connector with its status and config.
func (s *Server) listConnectors(r *http.Request) (any, error) {
	var all map[string]connectorExpanded
	if err := s.connectCall(r.Context(), "GET", "/connectors?expand=status&expand=info", nil, &all); err != nil {
		return nil, err
	}
	type row struct {
		Name   string            `json:"name"`
		Type   string            `json:"type"`
		Class  string            `json:"class"`
		Status connectorStatus   `json:"status"`
		Config map[string]string `json:"config"`
	}
	rows := []row{}
	for name, c := range all {
		rows = append(rows, row{Name: name, Type: c.Info.Type, Class: c.Info.Config["connector.class"], Status: c.Status, Config: c.Info.Config})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return map[string]any{"url": s.opts.ConnectURL, "connectors": rows}, nil
}

// describeConnector is GET /api/connectors/{name}: status (with task traces), config, tasks.
func (s *Server) describeConnector(r *http.Request) (any, error) {
	ctx := r.Context()
	name := url.PathEscape(r.PathValue("name"))
	var st connectorStatus
	if err := s.connectCall(ctx, "GET", "/connectors/"+name+"/status", nil, &st); err != nil {
		return nil, err
	}
	var cfg map[string]string
	if err := s.connectCall(ctx, "GET", "/connectors/"+name+"/config", nil, &cfg); err != nil {
		return nil, err
	}
	var tasks []any
	if err := s.connectCall(ctx, "GET", "/connectors/"+name+"/tasks", nil, &tasks); err != nil {
		return nil, err
	}
	return map[string]any{"name": r.PathValue("name"), "status": st, "config": cfg, "tasks": tasks}, nil
}

// createConnector is POST /api/connectors with Connect's own body: {"name", "config"}.
func (s *Server) createConnector(r *http.Request) (any, error) {
	var req struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" || len(req.Config) == 0 {
		return nil, errBadRequest(`a connector needs {"name": "...", "config": {"connector.class": "...", ...}}`)
	}
	var out any
	if err := s.connectCall(r.Context(), "POST", "/connectors", req, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// putConnectorConfig is PUT /api/connectors/{name}/config (creates or updates).
func (s *Server) putConnectorConfig(r *http.Request) (any, error) {
	var cfg map[string]string
	if err := decodeBody(r, &cfg); err != nil {
		return nil, err
	}
	var out any
	if err := s.connectCall(r.Context(), "PUT", "/connectors/"+url.PathEscape(r.PathValue("name"))+"/config", cfg, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// deleteConnector is DELETE /api/connectors/{name}.
func (s *Server) deleteConnector(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if err := s.connectCall(r.Context(), "DELETE", "/connectors/"+url.PathEscape(name), nil, nil); err != nil {
		return nil, err
	}
	return map[string]any{"deleted": name}, nil
}

// connectorAction is POST /api/connectors/{name}/{pause|resume|stop|restart}. restart restarts
// the connector and its tasks (?onlyFailed=true: the failed ones only), as Connect's
// POST /connectors/{name}/restart?includeTasks=true does.
func (s *Server) connectorAction(r *http.Request) (any, error) {
	name, action := url.PathEscape(r.PathValue("name")), r.PathValue("action")
	var out any
	var err error
	switch action {
	case "pause", "resume", "stop":
		err = s.connectCall(r.Context(), "PUT", "/connectors/"+name+"/"+action, nil, nil)
	case "restart":
		onlyFailed := r.URL.Query().Get("onlyFailed") == "true"
		err = s.connectCall(r.Context(), "POST", fmt.Sprintf("/connectors/%s/restart?includeTasks=true&onlyFailed=%t", name, onlyFailed), nil, &out)
	default:
		return nil, errNotFound("unknown connector action %q: pause, resume, stop or restart", action)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"name": r.PathValue("name"), "action": action, "result": out}, nil
}
