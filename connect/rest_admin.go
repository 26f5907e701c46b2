package connect

import (
	"fmt"
	"net/http"
	"strings"
)

// listPlugins is GET /connector-plugins; connectorsOnly=false adds transformations, predicates
// and converters.
func (s *Server) listPlugins(w http.ResponseWriter, r *http.Request) {
	connectorsOnly := !strings.EqualFold(strings.TrimSpace(r.URL.Query().Get("connectorsOnly")), "false")
	writeJSON(w, http.StatusOK, s.h().Registry().AllPlugins(connectorsOnly))
}

func (s *Server) pluginConfig(w http.ResponseWriter, r *http.Request) {
	p, ok := s.h().Registry().Lookup(r.PathValue("plugin"))
	if def, isConverter := ConverterConfigDef(r.PathValue("plugin")); !ok && isConverter {
		// NB: since Kafka 3.2 this endpoint describes converters too (KIP-769).
		out := []ConfigKeyInfo{}
		for _, k := range def.Keys() {
			out = append(out, k.Info())
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Unknown plugin %s.", r.PathValue("plugin")))
		return
	}
	out := []ConfigKeyInfo{}
	for _, k := range p.New().ConfigDef().Keys() {
		out = append(out, k.Info())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	var cfg configMap
	if err := decodeBody(r, &cfg); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if cfg == nil {
		cfg = configMap{}
	}
	plugin := r.PathValue("plugin")
	if c, ok := cfg[ConfigConnectorClass]; !ok || c == "" {
		cfg[ConfigConnectorClass] = plugin
	}
	// NB: Kafka rejects a body whose connector.class names another plugin than the path.
	pp, okPath := s.h().Registry().Lookup(plugin)
	pb, okBody := s.h().Registry().Lookup(cfg[ConfigConnectorClass])
	if okPath && okBody && pp != pb {
		writeError(w, http.StatusBadRequest, "Connector class in the path and in connector.class do not match")
		return
	}
	infos, _ := s.h().Registry().ValidateConnectorConfig(cfg)
	writeJSON(w, http.StatusOK, infos)
}

// listLoggers is GET /admin/loggers: every known logger with its level, sorted by name.
func (s *Server) listLoggers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.loggers.All())
}

// getLogger is GET /admin/loggers/{name}.
func (s *Server) getLogger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	l, ok := s.loggers.Get(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Logger %s not found.", name))
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// setLogger is PUT /admin/loggers/{name} {"level": "DEBUG"}: it sets the logger and those below it
// and returns their names. As in Kafka's standalone worker, scope=cluster acts on this worker only.
func (s *Server) setLogger(w http.ResponseWriter, r *http.Request) {
	var body map[string]*string
	if err := decodeBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	lv := body["level"]
	if lv == nil {
		writeError(w, http.StatusBadRequest, "Desired 'level' parameter was not specified in request.")
		return
	}
	level, ok := ParseLogLevel(*lv)
	if !ok {
		// NB: Kafka answers an unknown level with 404, not 400; clients may depend on it.
		writeError(w, http.StatusNotFound, fmt.Sprintf("invalid log level '%s'.", *lv))
		return
	}
	name := r.PathValue("name")
	affected := s.loggers.Set(name, level)
	s.logger.Info("log level changed", "logger", name, "level", LogLevelName(level), "affected", affected)
	writeJSON(w, http.StatusOK, affected)
}
