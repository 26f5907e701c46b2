package schemaregistry

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// schemaResponse is a subject version or schema as Confluent renders it (schemaType left out for
// Avro, as Confluent does).
type schemaResponse struct {
	Subject    string          `json:"subject,omitempty"`
	Version    int             `json:"version,omitempty"`
	ID         int             `json:"id,omitempty"`
	SchemaType string          `json:"schemaType,omitempty"`
	References []Reference     `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	Schema     string          `json:"schema"`
}

func renderType(t string) string {
	if t == TypeAvro {
		return ""
	}
	return t
}

func (s *Server) render(v *version) (*schemaResponse, error) {
	def := s.state.schemaByID(v.id)
	if def == nil {
		return nil, errSchemaNotFound()
	}
	return &schemaResponse{Subject: v.subject, Version: v.version, ID: v.id, SchemaType: renderType(def.schemaType),
		References: def.references, Metadata: v.metadata, RuleSet: v.ruleSet, Schema: def.schema}, nil
}

// resolveVersion finds a subject's version by path value; soft-deleted versions count only when
// deleted is set.
func (s *Server) resolveVersion(subject, versionText string, deleted bool) (*version, error) {
	n, err := parseVersion(versionText)
	if err != nil {
		return nil, err
	}
	if len(s.state.versionsOf(subject, true)) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	candidates := s.state.versionsOf(subject, deleted)
	if n == -1 {
		if len(candidates) == 0 {
			return nil, errSubjectNotFound(subject)
		}
		return candidates[len(candidates)-1], nil
	}
	for _, v := range candidates {
		if v.version == n {
			return v, nil
		}
	}
	return nil, errVersionNotFound(n)
}

func (s *Server) listSubjects(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		return s.state.subjectNames(queryBool(r, "deleted"), r.URL.Query().Get("subjectPrefix")), nil
	})(w, r)
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		subject := r.PathValue("subject")
		vs := s.state.versionsOf(subject, queryBool(r, "deleted"))
		if len(vs) == 0 {
			return nil, errSubjectNotFound(subject)
		}
		out := make([]int, len(vs))
		for i, v := range vs {
			out[i] = v.version
		}
		return out, nil
	})(w, r)
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		v, err := s.resolveVersion(r.PathValue("subject"), r.PathValue("version"), queryBool(r, "deleted"))
		if err != nil {
			return nil, err
		}
		return s.render(v)
	})(w, r)
}

func (s *Server) getVersionSchema(w http.ResponseWriter, r *http.Request) {
	v, err := s.resolveVersion(r.PathValue("subject"), r.PathValue("version"), queryBool(r, "deleted"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeRawSchema(w, s.state.schemaByID(v.id))
}

// writeRawSchema answers the bare schema text, as Confluent's /schema endpoints do.
func writeRawSchema(w http.ResponseWriter, def *schemaDef) {
	if def == nil {
		writeError(w, errSchemaNotFound())
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(def.schema))
}

func (s *Server) referencedBy(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		v, err := s.resolveVersion(r.PathValue("subject"), r.PathValue("version"), false)
		if err != nil {
			return nil, err
		}
		ids := s.state.referencedBy(v.subject, v.version)
		if ids == nil {
			ids = []int{}
		}
		return ids, nil
	})(w, r)
}

func (s *Server) listSchemas(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		out := []*schemaResponse{}
		deleted, latestOnly := queryBool(r, "deleted"), queryBool(r, "latestOnly")
		for _, subject := range s.state.subjectNames(deleted, r.URL.Query().Get("subjectPrefix")) {
			vs := s.state.versionsOf(subject, deleted)
			if latestOnly && len(vs) > 0 {
				vs = vs[len(vs)-1:]
			}
			for _, v := range vs {
				if resp, err := s.render(v); err == nil {
					out = append(out, resp)
				}
			}
		}
		return out, nil
	})(w, r)
}

func (s *Server) schemaIDParam(r *http.Request) (*schemaDef, int, error) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		return nil, 0, errorf(http.StatusNotFound, codeSchemaNotFound, "Schema %s not found", r.PathValue("id"))
	}
	def := s.state.schemaByID(id)
	if def == nil {
		return nil, id, errorf(http.StatusNotFound, codeSchemaNotFound, "Schema %d not found", id)
	}
	return def, id, nil
}

func (s *Server) getSchemaByID(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		def, _, err := s.schemaIDParam(r)
		if err != nil {
			return nil, err
		}
		return &schemaResponse{SchemaType: renderType(def.schemaType), References: def.references, Schema: def.schema}, nil
	})(w, r)
}

func (s *Server) getSchemaByIDRaw(w http.ResponseWriter, r *http.Request) {
	def, _, err := s.schemaIDParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeRawSchema(w, def)
}

func (s *Server) getSubjectsByID(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		_, id, err := s.schemaIDParam(r)
		if err != nil {
			return nil, err
		}
		out := []string{}
		for _, v := range s.state.versionsWithID(id, queryBool(r, "deleted")) {
			if len(out) == 0 || out[len(out)-1] != v.subject {
				out = append(out, v.subject)
			}
		}
		return out, nil
	})(w, r)
}

func (s *Server) getVersionsByID(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		_, id, err := s.schemaIDParam(r)
		if err != nil {
			return nil, err
		}
		type subjectVersion struct {
			Subject string `json:"subject"`
			Version int    `json:"version"`
		}
		out := []subjectVersion{}
		for _, v := range s.state.versionsWithID(id, queryBool(r, "deleted")) {
			out = append(out, subjectVersion{v.subject, v.version})
		}
		return out, nil
	})(w, r)
}

func (s *Server) effectiveConfig(subject string) string {
	if l, ok := s.state.configOf(subject); ok && subject != "" {
		return l
	}
	if l, ok := s.state.configOf(""); ok {
		return l
	}
	return CompatBackward
}

func (s *Server) effectiveMode(subject string) string {
	if m, ok := s.state.modeOf(subject); ok && subject != "" {
		return m
	}
	if m, ok := s.state.modeOf(""); ok {
		return m
	}
	return ModeReadWrite
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		subject := r.PathValue("subject")
		if subject != "" {
			if _, ok := s.state.configOf(subject); !ok && !queryBool(r, "defaultToGlobal") {
				return nil, errorf(http.StatusNotFound, codeSubjectConfigNotFound,
					"Subject '%s' does not have subject-level compatibility configured", subject)
			}
		}
		return map[string]string{"compatibilityLevel": s.effectiveConfig(subject)}, nil
	})(w, r)
}

func (s *Server) getMode(w http.ResponseWriter, r *http.Request) {
	read(func(r *http.Request, _ []byte) (any, error) {
		subject := r.PathValue("subject")
		if subject != "" {
			if _, ok := s.state.modeOf(subject); !ok && !queryBool(r, "defaultToGlobal") {
				return nil, errorf(http.StatusNotFound, codeSubjectModeNotFound,
					"Subject '%s' does not have subject-level mode configured", subject)
			}
		}
		return map[string]string{"mode": s.effectiveMode(subject)}, nil
	})(w, r)
}
