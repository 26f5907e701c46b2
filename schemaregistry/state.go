package schemaregistry

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// schemaDef is one distinct schema: its id, type, text (as stored: canonical) and references.
type schemaDef struct {
	id         int
	schemaType string
	schema     string
	references []Reference
	key        string // contentKey, computed once
}

// version is one version of one subject.
type version struct {
	subject  string
	version  int
	id       int
	deleted  bool
	metadata json.RawMessage
	ruleSet  json.RawMessage
}

// state is what the `_schemas` topic says, rebuilt by applying its records in order. It is the pure
// core of the registry: apply takes a record, the queries read; no I/O. Safe for concurrent use.
type state struct {
	mu struct {
		sync.RWMutex
		ids       map[int]*schemaDef
		byContent map[string]int // contentKey → id
		subjects  map[string]map[int]*version
		config    map[string]string // subject ("" = global) → compatibility level
		mode      map[string]string // subject ("" = global) → mode
		maxID     int
		applied   int64 // offset of the last applied record, -1 before any
	}
}

func newState() *state {
	s := &state{}
	s.mu.ids = map[int]*schemaDef{}
	s.mu.byContent = map[string]int{}
	s.mu.subjects = map[string]map[int]*version{}
	s.mu.config = map[string]string{}
	s.mu.mode = map[string]string{}
	s.mu.applied = -1
	return s
}

// contentKey identifies a schema's content: same type, same normalised text, same references.
func contentKey(schemaType, schema string, refs []Reference) string {
	if schemaType == "" {
		schemaType = TypeAvro
	}
	return schemaType + "\x00" + normalizeForComparison(schemaType, schema) + "\x00" + string(mustJSON(refs))
}

// apply applies one `_schemas` record at offset. A record it cannot read is skipped with an error
// (the caller logs it): one bad record must not stop the registry from serving the others.
func (s *state) apply(offset int64, key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.applied = offset
	var k recordKey
	if err := json.Unmarshal(key, &k); err != nil {
		return fmt.Errorf("_schemas offset %d: key %q: %w", offset, key, err)
	}
	subject := ""
	if k.Subject != nil {
		subject = *k.Subject
	}
	switch k.KeyType {
	case keySchema:
		if value == nil {
			s.removeVersionLocked(subject, k.Version)
			return nil
		}
		var v schemaValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("_schemas offset %d: schema value: %w", offset, err)
		}
		s.putVersionLocked(v)
	case keyConfig:
		if value == nil {
			delete(s.mu.config, subject)
			return nil
		}
		var v configValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("_schemas offset %d: config value: %w", offset, err)
		}
		if v.CompatibilityLevel == "" {
			delete(s.mu.config, subject)
		} else {
			s.mu.config[subject] = strings.ToUpper(v.CompatibilityLevel)
		}
	case keyMode:
		if value == nil {
			delete(s.mu.mode, subject)
			return nil
		}
		var v modeValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("_schemas offset %d: mode value: %w", offset, err)
		}
		s.mu.mode[subject] = strings.ToUpper(v.Mode)
	case keyDeleteSubject, keyClearSubject:
		if value == nil {
			return nil
		}
		var v deleteSubjectValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("_schemas offset %d: %s value: %w", offset, k.KeyType, err)
		}
		for n, ver := range s.mu.subjects[subject] {
			if v.Version != 0 && n > v.Version {
				continue
			}
			if k.KeyType == keyDeleteSubject {
				ver.deleted = true
			} else if ver.deleted {
				s.removeVersionLocked(subject, n)
			}
		}
	case keyNoop:
		if value != nil {
			var v noopValue
			if err := json.Unmarshal(value, &v); err == nil {
				s.mu.maxID = max(s.mu.maxID, v.MaxID)
			}
		}
	default:
		return fmt.Errorf("_schemas offset %d: unknown keytype %q", offset, k.KeyType)
	}
	return nil
}

func (s *state) putVersionLocked(v schemaValue) {
	if v.SchemaType == "" {
		v.SchemaType = TypeAvro
	}
	if _, ok := s.mu.ids[v.ID]; !ok {
		key := contentKey(v.SchemaType, v.Schema, v.References)
		s.mu.ids[v.ID] = &schemaDef{id: v.ID, schemaType: v.SchemaType, schema: v.Schema, references: v.References, key: key}
		s.mu.byContent[key] = v.ID
	}
	s.mu.maxID = max(s.mu.maxID, v.ID)
	versions := s.mu.subjects[v.Subject]
	if versions == nil {
		versions = map[int]*version{}
		s.mu.subjects[v.Subject] = versions
	}
	versions[v.Version] = &version{subject: v.Subject, version: v.Version, id: v.ID, deleted: v.Deleted,
		metadata: v.Metadata, ruleSet: v.RuleSet}
}

func (s *state) removeVersionLocked(subject string, n int) {
	versions := s.mu.subjects[subject]
	ver, ok := versions[n]
	if !ok {
		return
	}
	delete(versions, n)
	if len(versions) == 0 {
		delete(s.mu.subjects, subject)
	}
	for _, vs := range s.mu.subjects {
		for _, other := range vs {
			if other.id == ver.id {
				return
			}
		}
	}
	// NB: maxID is kept, so the primary never hands out a hard-deleted schema's id again while
	// this process lives.
	if def, ok := s.mu.ids[ver.id]; ok {
		delete(s.mu.byContent, def.key)
		delete(s.mu.ids, ver.id)
	}
}

// appliedOffset is the offset of the last record applied, -1 before any.
func (s *state) appliedOffset() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.applied
}

// subjectNames lists subjects that have a live version (or any version when deleted), sorted.
func (s *state) subjectNames(deleted bool, prefix string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []string{}
	for name, versions := range s.mu.subjects {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, v := range versions {
			if deleted || !v.deleted {
				out = append(out, name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// versionsOf returns a subject's versions in ascending order (live ones, or all when deleted).
// It returns nil when there is none to show.
func (s *state) versionsOf(subject string, deleted bool) []*version {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.versionsOfLocked(subject, deleted)
}

func (s *state) versionsOfLocked(subject string, deleted bool) []*version {
	var out []*version
	for _, v := range s.mu.subjects[subject] {
		if deleted || !v.deleted {
			c := *v
			out = append(out, &c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out
}

// schemaByID returns the schema with id, or nil.
func (s *state) schemaByID(id int) *schemaDef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if def, ok := s.mu.ids[id]; ok {
		c := *def
		return &c
	}
	return nil
}

// versionsWithID lists every (subject, version) registered with id, sorted.
func (s *state) versionsWithID(id int, deleted bool) []*version {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*version
	for _, vs := range s.mu.subjects {
		for _, v := range vs {
			if v.id == id && (deleted || !v.deleted) {
				c := *v
				out = append(out, &c)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].subject != out[j].subject {
			return out[i].subject < out[j].subject
		}
		return out[i].version < out[j].version
	})
	return out
}

// idForContent returns the id of a schema with this content, or 0.
func (s *state) idForContent(key string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.byContent[key]
}

// nextID is the id the primary gives a new schema.
func (s *state) nextID() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.maxID + 1
}

// configOf returns a subject's level ("" = global) and whether it is set.
func (s *state) configOf(subject string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.mu.config[subject]
	return l, ok
}

// modeOf returns a subject's mode ("" = global) and whether it is set.
func (s *state) modeOf(subject string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.mu.mode[subject]
	return m, ok
}

// referencedBy lists the ids of live schemas that reference subject/version.
func (s *state) referencedBy(subject string, n int) []int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[int]bool{}
	var out []int
	for _, vs := range s.mu.subjects {
		for _, v := range vs {
			def := s.mu.ids[v.id]
			if def == nil || v.deleted || seen[v.id] {
				continue
			}
			for _, r := range def.references {
				if r.Subject == subject && r.Version == n {
					seen[v.id] = true
					out = append(out, v.id)
				}
			}
		}
	}
	sort.Ints(out)
	return out
}
