package connect

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

func (s *Server) root(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": Version, "commit": "gregor", "kafka_cluster_id": s.clusterID})
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	var expand []string
	for _, e := range r.URL.Query()["expand"] {
		expand = append(expand, splitList(e)...)
	}
	names := s.h().Connectors()
	if len(expand) == 0 {
		writeJSON(w, http.StatusOK, names)
		return
	}
	out := map[string]map[string]any{}
	for _, n := range names {
		entry := map[string]any{}
		for _, e := range expand {
			switch e {
			case "status":
				if st, err := s.h().ConnectorStatus(n); err == nil {
					entry["status"] = st
				}
			case "info":
				if info, err := s.h().ConnectorInfo(n); err == nil {
					entry["info"] = info
				}
			}
		}
		if len(entry) > 0 {
			out[n] = entry
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type createRequest struct {
	Name         *string   `json:"name"`
	Config       configMap `json:"config"`
	InitialState string    `json:"initial_state"`
}

func (s *Server) createConnector(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := ""
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
	}
	if name == "" {
		if n, ok := req.Config[ConfigName]; ok {
			name = strings.TrimSpace(n)
		}
	}
	if name == "" {
		writeError(w, http.StatusBadRequest, "Connector name must be set with the \"name\" field")
		return
	}
	if strings.ContainsAny(name, "/") {
		writeError(w, http.StatusBadRequest, "Connector name (\"name\") must not contain '/'")
		return
	}
	if req.Config == nil {
		writeError(w, http.StatusBadRequest, "Connector config must be set with the \"config\" field")
		return
	}
	if n, ok := req.Config[ConfigName]; ok && n != name {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name))
		return
	}
	initial, err := parseInitialState(req.InitialState)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	info, _, err := s.h().PutConnectorConfig(name, req.Config, false, initial)
	if err == nil {
		w.Header().Set("Location", "/connectors/"+url.PathEscape(name))
	}
	s.respond(w, http.StatusCreated)(info, err)
}

func parseInitialState(s string) (TargetState, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "RUNNING":
		return TargetStarted, nil
	case "PAUSED":
		return TargetPaused, nil
	case "STOPPED":
		return TargetStopped, nil
	}
	return "", fmt.Errorf("initial_state: %q must be one of RUNNING, PAUSED, STOPPED", s)
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, name string) {
	var cfg configMap
	if err := decodeBody(r, &cfg); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if cfg == nil {
		writeError(w, http.StatusBadRequest, "Connector config must be a JSON object")
		return
	}
	if n, ok := cfg[ConfigName]; ok && n != name {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name))
		return
	}
	info, created, err := s.h().PutConnectorConfig(name, cfg, true, TargetStarted)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		w.Header().Set("Location", "/connectors/"+url.PathEscape(name))
	}
	s.respond(w, code)(info, err)
}

// patchConfig merges a partial config into an existing connector's (a null value removes a key).
func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request, name string) {
	var patch map[string]*string
	if err := decodeBody(r, &patch); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	cfg, err := s.h().ConnectorConfig(name)
	if err != nil {
		writeHerderError(w, err)
		return
	}
	for k, v := range patch {
		switch {
		case v == nil:
			delete(cfg, k)
		case k == ConfigName && *v != name:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", *v, name))
			return
		default:
			cfg[k] = *v
		}
	}
	// NB: two concurrent PATCHes may race (last writer wins), as in Kafka's standalone mode.
	info, _, err := s.h().PutConnectorConfig(name, cfg, true, TargetStarted)
	s.respond(w, http.StatusOK)(info, err)
}

// alterOffsets is PATCH /connectors/{name}/offsets: {"offsets":[{"partition":{..},"offset":{..}|null}]}.
func (s *Server) alterOffsets(w http.ResponseWriter, r *http.Request, name string) {
	var body struct {
		Offsets []struct {
			Partition json.RawMessage `json:"partition"`
			Offset    json.RawMessage `json:"offset"`
		} `json:"offsets"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(body.Offsets) == 0 {
		writeError(w, http.StatusBadRequest, "Partitions / offsets need to be provided for an alter offsets request")
		return
	}
	// NB: decoded with decodeJSON so integral numbers stay int64, as connectors store them.
	offsets := make([]PartitionOffset, 0, len(body.Offsets))
	for i, e := range body.Offsets {
		var po PartitionOffset
		for _, f := range []struct {
			name string
			raw  json.RawMessage
			dst  *map[string]any
		}{{"partition", e.Partition, &po.Partition}, {"offset", e.Offset, &po.Offset}} {
			if len(f.raw) == 0 || string(f.raw) == "null" {
				continue
			}
			v, err := decodeJSON(f.raw)
			m, ok := v.(map[string]any)
			if err != nil || !ok {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("offsets[%d].%s must be a JSON object or null", i, f.name))
				return
			}
			*f.dst = m
		}
		if po.Partition == nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("offsets[%d].partition must be a JSON object", i))
			return
		}
		offsets = append(offsets, po)
	}
	msg, err := s.h().AlterConnectorOffsets(r.Context(), name, offsets)
	s.respond(w, http.StatusOK)(map[string]string{"message": msg}, err)
}

// restartConnector is POST /connectors/{n}/restart. Without includeTasks and onlyFailed it
// restarts the connector instance and answers 204; otherwise 202 with the connector's status in
// which what is being restarted shows RESTARTING, as Kafka's restart plan does.
func (s *Server) restartConnector(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	includeTasks := strings.EqualFold(q.Get("includeTasks"), "true")
	onlyFailed := strings.EqualFold(q.Get("onlyFailed"), "true")
	var plan ConnectorStatus
	if includeTasks || onlyFailed {
		st, err := s.h().ConnectorStatus(name)
		if err != nil {
			writeHerderError(w, err)
			return
		}
		plan = restartPlan(st, includeTasks, onlyFailed)
	}
	if err := s.h().RestartConnector(name, includeTasks, onlyFailed); err != nil {
		writeHerderError(w, err)
		return
	}
	if !includeTasks && !onlyFailed {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusAccepted, plan)
}

// restartPlan marks in st what a restart with these flags restarts. A stopped connector restarts
// nothing.
func restartPlan(st ConnectorStatus, includeTasks, onlyFailed bool) ConnectorStatus {
	if st.Connector.State == StateStopped {
		return st
	}
	if !onlyFailed || st.Connector.State == StateFailed {
		st.Connector.State, st.Connector.Trace = StateRestarting, ""
	}
	if includeTasks {
		for i, t := range st.Tasks {
			if !onlyFailed || t.State == StateFailed {
				st.Tasks[i].State, st.Tasks[i].Trace = StateRestarting, ""
			}
		}
	}
	return st
}
