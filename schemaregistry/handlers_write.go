package schemaregistry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// The modes, Confluent's names.
const (
	ModeReadWrite        = "READWRITE"
	ModeReadOnly         = "READONLY"
	ModeReadOnlyOverride = "READONLY_OVERRIDE"
	ModeImport           = "IMPORT"
)

// registerRequest is the body of register, lookup and compatibility requests.
type registerRequest struct {
	Schema     string          `json:"schema"`
	SchemaType string          `json:"schemaType"`
	References []Reference     `json:"references"`
	Metadata   json.RawMessage `json:"metadata"`
	RuleSet    json.RawMessage `json:"ruleSet"`
	Version    int             `json:"version"`
	ID         int             `json:"id"`
}

// candidate is a request's schema, parsed.
type candidate struct {
	format     schemaFormat
	schemaType string
	parsed     parsedSchema
	key        string
	req        registerRequest
}

func nullToNil(m json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(m)) == 0 || string(bytes.TrimSpace(m)) == "null" {
		return nil
	}
	return m
}

// prepare decodes and parses a request's schema with its references; every failure is 42201.
func (s *Server) prepare(body []byte) (*candidate, error) {
	var req registerRequest
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	req.Metadata, req.RuleSet = nullToNil(req.Metadata), nullToNil(req.RuleSet)
	f, schemaType, ok := formatOf(req.SchemaType)
	if !ok {
		return nil, errInvalidSchema("Invalid schema type %q: valid types are AVRO, JSON, PROTOBUF", req.SchemaType)
	}
	if strings.TrimSpace(req.Schema) == "" {
		return nil, errInvalidSchema("Empty schema")
	}
	refs, err := s.resolveReferences(req.References, 0)
	if err != nil {
		return nil, err
	}
	parsed, err := f.parse(req.Schema, refs)
	if err != nil {
		return nil, errInvalidSchema("Invalid schema %s with refs %v of type %s, details: %v", req.Schema, req.References, schemaType, err)
	}
	return &candidate{format: f, schemaType: schemaType, parsed: parsed, req: req,
		key: contentKey(schemaType, parsed.canonical(), req.References)}, nil
}

// resolveReferences returns the referenced schemas, each after its own references.
func (s *Server) resolveReferences(refs []Reference, depth int) ([]resolvedRef, error) {
	if depth > 32 {
		return nil, errInvalidSchema("Invalid schema: references nested deeper than 32 (a cycle?)")
	}
	var out []resolvedRef
	for _, r := range refs {
		v, err := s.resolveVersion(r.Subject, fmt.Sprint(r.Version), true)
		if err != nil {
			return nil, errInvalidSchema("Invalid schema: reference %q to subject %q version %d not found", r.Name, r.Subject, r.Version)
		}
		def := s.state.schemaByID(v.id)
		if def == nil {
			return nil, errInvalidSchema("Invalid schema: reference %q to schema id %d not found", r.Name, v.id)
		}
		sub, err := s.resolveReferences(def.references, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
		out = append(out, resolvedRef{name: r.Name, schema: def.schema})
	}
	return out, nil
}

// previousSchemas parses a subject's live versions (ascending) for compatibility checks.
func (s *Server) previousSchemas(vs []*version) []previousSchema {
	var out []previousSchema
	for _, v := range vs {
		def := s.state.schemaByID(v.id)
		if def == nil {
			continue
		}
		f, _, ok := formatOf(def.schemaType)
		if !ok {
			continue
		}
		refs, err := s.resolveReferences(def.references, 0)
		if err != nil {
			continue
		}
		p, err := f.parse(def.schema, refs)
		if err != nil {
			s.cfg.Logger.Warn("a stored schema does not parse; skipped in compatibility checks", "id", v.id, "err", err)
			continue
		}
		out = append(out, previousSchema{version: v.version, schema: def.schema, parsed: p})
	}
	return out
}

func (s *Server) checkWritable(subject string) error {
	switch s.effectiveMode(subject) {
	case ModeReadOnly, ModeReadOnlyOverride:
		return errorf(http.StatusUnprocessableEntity, codeOperationNotPermitted, "Subject %s is in read-only mode", subject)
	}
	return nil
}

func (s *Server) register(r *http.Request, body []byte) (any, error) {
	subject := r.PathValue("subject")
	if err := s.checkWritable(subject); err != nil {
		return nil, err
	}
	c, err := s.prepare(body)
	if err != nil {
		return nil, err
	}
	mode := s.effectiveMode(subject)
	live := s.state.versionsOf(subject, false)
	for _, v := range live {
		def := s.state.schemaByID(v.id)
		if def != nil && def.key == c.key &&
			(c.req.Metadata == nil || bytes.Equal(c.req.Metadata, v.metadata)) &&
			(c.req.RuleSet == nil || bytes.Equal(c.req.RuleSet, v.ruleSet)) {
			return map[string]int{"id": v.id}, nil
		}
	}
	id := s.state.idForContent(c.key)
	if mode == ModeImport {
		if c.req.ID <= 0 {
			return nil, errorf(http.StatusUnprocessableEntity, codeOperationNotPermitted, "Subject %s is in import mode: an id is required", subject)
		}
		if def := s.state.schemaByID(c.req.ID); def != nil && def.key != c.key {
			return nil, errorf(http.StatusUnprocessableEntity, codeOperationNotPermitted, "Overwrite new schema with id %d is not permitted.", c.req.ID)
		}
		id = c.req.ID
	} else {
		if c.req.ID > 0 && c.req.ID != id {
			return nil, errorf(http.StatusUnprocessableEntity, codeOperationNotPermitted, "Subject %s is not in import mode: an id may not be given", subject)
		}
		level := s.effectiveConfig(subject)
		if msgs := checkCompatibility(level, c.format, c.parsed, s.previousSchemas(live)); len(msgs) > 0 {
			return nil, errorf(http.StatusConflict, codeIncompatible,
				"Schema being registered is incompatible with an earlier schema for subject \"%s\", details: [%s]",
				subject, strings.Join(msgs, ", "))
		}
		if id == 0 {
			id = s.state.nextID()
		}
	}
	next := 1
	if all := s.state.versionsOf(subject, true); len(all) > 0 {
		next = all[len(all)-1].version + 1
	}
	if mode == ModeImport && c.req.Version > 0 {
		next = c.req.Version
	}
	value := schemaValue{Subject: subject, Version: next, ID: id, SchemaType: renderType(c.schemaType),
		References: c.req.References, Metadata: c.req.Metadata, RuleSet: c.req.RuleSet, Schema: c.parsed.canonical()}
	if err := s.store.write(r.Context(), record{schemaKey(subject, next), mustJSON(value)}); err != nil {
		return nil, errStore(err)
	}
	return map[string]int{"id": id}, nil
}

func (s *Server) lookupSchema(r *http.Request, body []byte) (any, error) {
	subject := r.PathValue("subject")
	c, err := s.prepare(body)
	if err != nil {
		return nil, err
	}
	vs := s.state.versionsOf(subject, queryBool(r, "deleted"))
	if len(vs) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	for i := len(vs) - 1; i >= 0; i-- {
		def := s.state.schemaByID(vs[i].id)
		if def != nil && def.key == c.key {
			return s.render(vs[i])
		}
	}
	return nil, errSchemaNotFound()
}

func (s *Server) testCompatibility(r *http.Request, body []byte) (any, error) {
	subject := r.PathValue("subject")
	c, err := s.prepare(body)
	if err != nil {
		return nil, err
	}
	level := s.effectiveConfig(subject)
	var previous []previousSchema
	if text := r.PathValue("version"); text != "" {
		n, err := parseVersion(text)
		if err != nil {
			return nil, err
		}
		if n == -1 && len(s.state.versionsOf(subject, false)) == 0 {
			return map[string]any{"is_compatible": true}, nil
		}
		v, err := s.resolveVersion(subject, text, false)
		if err != nil {
			return nil, err
		}
		previous = s.previousSchemas([]*version{v})
	} else {
		previous = s.previousSchemas(s.state.versionsOf(subject, false))
	}
	msgs := checkCompatibility(level, c.format, c.parsed, previous)
	resp := map[string]any{"is_compatible": len(msgs) == 0}
	if queryBool(r, "verbose") {
		if msgs == nil {
			msgs = []string{}
		}
		resp["messages"] = msgs
	}
	return resp, nil
}

func referenceExists(subject string, n int) error {
	return errorf(http.StatusUnprocessableEntity, codeReferenceExists,
		"One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=%s,version=%d}.", subject, n)
}

func (s *Server) deleteVersion(r *http.Request, _ []byte) (any, error) {
	subject := r.PathValue("subject")
	if err := s.checkWritable(subject); err != nil {
		return nil, err
	}
	n, err := parseVersion(r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	permanent := queryBool(r, "permanent")
	all := s.state.versionsOf(subject, true)
	if len(all) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	candidates := all
	if !permanent && n == -1 {
		candidates = s.state.versionsOf(subject, false)
		if len(candidates) == 0 {
			return nil, errSubjectNotFound(subject)
		}
	}
	var target *version
	for _, v := range candidates {
		if v.version == n || (n == -1 && v == candidates[len(candidates)-1]) {
			target = v
		}
	}
	if target == nil {
		return nil, errVersionNotFound(n)
	}
	if len(s.state.referencedBy(subject, target.version)) > 0 {
		return nil, referenceExists(subject, target.version)
	}
	var rec record
	if permanent {
		if !target.deleted {
			return nil, errorf(http.StatusNotFound, codeVersionNotSoftDeleted,
				"Subject '%s' Version %d was not deleted first before being permanently deleted", subject, target.version)
		}
		rec = record{key: schemaKey(subject, target.version)}
		if err := s.store.write(r.Context(), s.idWatermark()); err != nil {
			return nil, errStore(err)
		}
	} else {
		if target.deleted {
			return nil, errorf(http.StatusNotFound, codeVersionSoftDeleted,
				"Subject '%s' Version %d was soft deleted. Set permanent=true to delete permanently", subject, target.version)
		}
		rec = record{schemaKey(subject, target.version), s.deletedValue(target)}
	}
	if err := s.store.write(r.Context(), rec); err != nil {
		return nil, errStore(err)
	}
	return target.version, nil
}

// idWatermark is the NOOP record that keeps the highest id handed out taken, written before a
// permanent delete's tombstones.
func (s *Server) idWatermark() record {
	return record{subjectKey(keyNoop, ""), mustJSON(noopValue{MaxID: s.state.nextID() - 1})}
}

// deletedValue is a version's SCHEMA record value marked deleted.
func (s *Server) deletedValue(v *version) []byte {
	def := s.state.schemaByID(v.id)
	value := schemaValue{Subject: v.subject, Version: v.version, ID: v.id, Metadata: v.metadata, RuleSet: v.ruleSet, Deleted: true}
	if def != nil {
		value.SchemaType, value.References, value.Schema = renderType(def.schemaType), def.references, def.schema
	}
	return mustJSON(value)
}

func (s *Server) deleteSubject(r *http.Request, _ []byte) (any, error) {
	subject := r.PathValue("subject")
	if err := s.checkWritable(subject); err != nil {
		return nil, err
	}
	all := s.state.versionsOf(subject, true)
	if len(all) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	live := s.state.versionsOf(subject, false)
	var records []record
	var deleted []int
	if queryBool(r, "permanent") {
		if len(live) > 0 {
			return nil, errorf(http.StatusNotFound, codeSubjectNotSoftDeleted,
				"Subject '%s' was not deleted first before being permanently deleted", subject)
		}
		records = append(records, s.idWatermark())
		for _, v := range all {
			records = append(records, record{key: schemaKey(subject, v.version)})
			deleted = append(deleted, v.version)
		}
		if _, ok := s.state.configOf(subject); ok {
			records = append(records, record{key: subjectKey(keyConfig, subject)})
		}
		if _, ok := s.state.modeOf(subject); ok {
			records = append(records, record{key: subjectKey(keyMode, subject)})
		}
	} else {
		if len(live) == 0 {
			return nil, errorf(http.StatusNotFound, codeSubjectSoftDeleted,
				"Subject '%s' was soft deleted. Set permanent=true to delete permanently", subject)
		}
		for _, v := range live {
			if len(s.state.referencedBy(subject, v.version)) > 0 {
				return nil, referenceExists(subject, v.version)
			}
		}
		records = append(records, record{subjectKey(keyDeleteSubject, subject),
			mustJSON(deleteSubjectValue{Subject: subject, Version: live[len(live)-1].version})})
		for _, v := range live {
			records = append(records, record{schemaKey(subject, v.version), s.deletedValue(v)})
			deleted = append(deleted, v.version)
		}
	}
	if err := s.store.write(r.Context(), records...); err != nil {
		return nil, errStore(err)
	}
	return deleted, nil
}

func (s *Server) putConfig(r *http.Request, body []byte) (any, error) {
	var req struct {
		Compatibility      string `json:"compatibility"`
		CompatibilityLevel string `json:"compatibilityLevel"`
	}
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	level := strings.ToUpper(req.Compatibility + req.CompatibilityLevel)
	if req.Compatibility != "" && req.CompatibilityLevel != "" {
		level = strings.ToUpper(req.Compatibility)
	}
	if !validCompatibility(level) {
		return nil, errorf(http.StatusUnprocessableEntity, codeInvalidCompatibilityLevel,
			"Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")
	}
	subject := r.PathValue("subject")
	if err := s.store.write(r.Context(), record{subjectKey(keyConfig, subject), mustJSON(configValue{CompatibilityLevel: level})}); err != nil {
		return nil, errStore(err)
	}
	return map[string]string{"compatibility": level}, nil
}

func (s *Server) deleteConfig(r *http.Request, _ []byte) (any, error) {
	subject := r.PathValue("subject")
	previous := s.effectiveConfig(subject)
	if _, ok := s.state.configOf(subject); !ok {
		if subject != "" && len(s.state.versionsOf(subject, true)) == 0 {
			return nil, errSubjectNotFound(subject)
		}
		return map[string]string{"compatibilityLevel": previous}, nil
	}
	if err := s.store.write(r.Context(), record{key: subjectKey(keyConfig, subject)}); err != nil {
		return nil, errStore(err)
	}
	return map[string]string{"compatibilityLevel": previous}, nil
}

func (s *Server) putMode(r *http.Request, body []byte) (any, error) {
	var req struct {
		Mode string `json:"mode"`
	}
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	mode := strings.ToUpper(req.Mode)
	switch mode {
	case ModeReadWrite, ModeReadOnly, ModeReadOnlyOverride, ModeImport:
	default:
		return nil, errorf(http.StatusUnprocessableEntity, codeInvalidMode,
			"Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT")
	}
	subject := r.PathValue("subject")
	if mode == ModeImport && !queryBool(r, "force") {
		existing := len(s.state.subjectNames(true, "")) > 0
		if subject != "" {
			existing = len(s.state.versionsOf(subject, true)) > 0
		}
		if existing {
			return nil, errorf(http.StatusUnprocessableEntity, codeOperationNotPermitted,
				"Cannot import since found existing subjects")
		}
	}
	if err := s.store.write(r.Context(), record{subjectKey(keyMode, subject), mustJSON(modeValue{Mode: mode})}); err != nil {
		return nil, errStore(err)
	}
	return map[string]string{"mode": mode}, nil
}

func (s *Server) deleteMode(r *http.Request, _ []byte) (any, error) {
	subject := r.PathValue("subject")
	previous := s.effectiveMode(subject)
	if _, ok := s.state.modeOf(subject); ok {
		if err := s.store.write(r.Context(), record{key: subjectKey(keyMode, subject)}); err != nil {
			return nil, errStore(err)
		}
	}
	return map[string]string{"mode": previous}, nil
}
