package streams

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNotLocal is returned (wrapped in *NotLocalError) by queries for a key whose task runs on
// another instance.
var ErrNotLocal = errors.New("streams: key is not on this instance")

// NotLocalError says which instance owns a key.
type NotLocalError struct {
	Store     string
	Partition int32
	// Owner is the owning instance's application server (host:port), "" if unknown (no owner
	// yet, or it set no Config.ApplicationServer).
	Owner string
}

func (e *NotLocalError) Error() string {
	owner := e.Owner
	if owner == "" {
		owner = "unknown"
	}
	return fmt.Sprintf("streams: store %s partition %d is not on this instance (owner: %s)", e.Store, e.Partition, owner)
}

func (e *NotLocalError) Unwrap() error { return ErrNotLocal }

// KeyMetadata says where a key of a store lives.
type KeyMetadata struct {
	Partition int32
	// Owner is the application server of the instance running the key's task ("" if unknown).
	Owner string
	// Local is true when this instance runs the task.
	Local bool
}

// iqState is what interactive queries need: the open stores and the group's task placement.
type iqState struct {
	mu       sync.RWMutex
	stores   map[string]map[int32]*statestore.KeyValueStore
	assigned []taskID            // this member's tasks in the current generation, less revoked ones
	owned    []taskID            // this member's tasks as last assigned (for stickiness)
	hosts    map[string][]taskID // endpoint → tasks, from the leader
}

func (a *App) registerStores(t *task) {
	a.iq.mu.Lock()
	defer a.iq.mu.Unlock()
	if a.iq.stores == nil {
		a.iq.stores = map[string]map[int32]*statestore.KeyValueStore{}
	}
	for name, kv := range t.stores {
		if a.iq.stores[name] == nil {
			a.iq.stores[name] = map[int32]*statestore.KeyValueStore{}
		}
		a.iq.stores[name][t.id.partition] = kv
	}
}

func (a *App) unregisterStores(t *task) {
	a.iq.mu.Lock()
	defer a.iq.mu.Unlock()
	for name, kv := range t.stores {
		if a.iq.stores[name][t.id.partition] == kv {
			delete(a.iq.stores[name], t.id.partition)
		}
	}
}

// setAssignment records this member's new partitions and the group's placement.
func (a *App) setAssignment(parts map[string][]int32, info assignmentInfo) {
	seen := map[taskID]bool{}
	for topic, ps := range parts {
		if st := a.subOf[topic]; st != nil {
			for _, p := range ps {
				seen[taskID{subtopology: st.id, partition: p}] = true
			}
		}
	}
	hosts := map[string][]taskID{}
	for ep, ts := range info.Hosts {
		hosts[ep] = parseTasks(ts)
	}
	a.iq.mu.Lock()
	defer a.iq.mu.Unlock()
	a.iq.assigned = slices.SortedFunc(func(yield func(taskID) bool) {
		for id := range seen {
			if !yield(id) {
				return
			}
		}
	}, compareTasks)
	a.iq.owned = slices.Clone(a.iq.assigned)
	a.iq.hosts = hosts
}

// forgetAssigned drops tasks of revoked or lost partitions from the current assignment, so they
// are not reopened before the next one arrives.
func (a *App) forgetAssigned(parts map[string][]int32) {
	drop := map[taskID]bool{}
	for topic, ps := range parts {
		if st := a.subOf[topic]; st != nil {
			for _, p := range ps {
				drop[taskID{subtopology: st.id, partition: p}] = true
			}
		}
	}
	a.iq.mu.Lock()
	defer a.iq.mu.Unlock()
	a.iq.assigned = slices.DeleteFunc(a.iq.assigned, func(id taskID) bool { return drop[id] })
}

// assignedTasks returns the tasks of the current assignment that are not revoked.
func (a *App) assignedTasks() []taskID {
	a.iq.mu.RLock()
	defer a.iq.mu.RUnlock()
	return slices.Clone(a.iq.assigned)
}

// ownedTasks returns the tasks of the last assignment this member received.
func (a *App) ownedTasks() []taskID {
	a.iq.mu.RLock()
	defer a.iq.mu.RUnlock()
	return slices.Clone(a.iq.owned)
}

// storeSub returns the sub-topology that owns store.
func (a *App) storeSub(store string) (*subtopology, error) {
	for _, st := range a.topo.subs {
		if slices.Contains(st.stores, store) {
			return st, nil
		}
	}
	return nil, fmt.Errorf("streams: no store %q in the topology", store)
}

// KeyOwner says which partition of store holds key (its serialized bytes) and which instance
// runs that partition's task, from the assignment of the current generation. Keys are placed as
// Kafka's default partitioner places records (murmur2 of the key).
func (a *App) KeyOwner(store string, key []byte) (KeyMetadata, error) {
	st, err := a.storeSub(store)
	if err != nil {
		return KeyMetadata{}, err
	}
	n := a.subPartitions[st.id]
	if n <= 0 {
		return KeyMetadata{}, errors.New("streams: not started")
	}
	p := int32(kgo.StickyKeyPartitioner(nil).ForTopic(store).Partition(&kgo.Record{Key: key}, int(n)))
	id := taskID{subtopology: st.id, partition: p}
	a.iq.mu.RLock()
	defer a.iq.mu.RUnlock()
	md := KeyMetadata{Partition: p, Local: slices.Contains(a.iq.assigned, id)}
	for ep, ts := range a.iq.hosts {
		if slices.Contains(ts, id) {
			md.Owner = ep
		}
	}
	if md.Local && md.Owner == "" {
		md.Owner = a.cfg.ApplicationServer
	}
	return md, nil
}

// ReadOnlyStore queries one key-value store over the tasks this instance runs. It is safe for
// concurrent use; reads see the latest processed updates (including those not yet committed).
type ReadOnlyStore struct {
	a    *App
	name string
	// stale lets Get read a standby copy (StaleStore).
	stale bool
}

// Store returns a read-only view of the named key-value store (interactive queries).
func (a *App) Store(name string) (*ReadOnlyStore, error) {
	if _, err := a.storeSub(name); err != nil {
		return nil, err
	}
	return &ReadOnlyStore{a: a, name: name}, nil
}

// StaleStore is Store allowing stale reads (Kafka's StoreQueryParameters.enableStaleStores): a
// key whose task runs elsewhere but has a standby copy here (Config.NumStandbyReplicas) is read
// from that copy, which lags its changelog by up to a refresh (about a commit interval).
func (a *App) StaleStore(name string) (*ReadOnlyStore, error) {
	s, err := a.Store(name)
	if err != nil {
		return nil, err
	}
	s.stale = true
	return s, nil
}

// Get returns the value of key (serialized bytes) if its task runs here (or, from StaleStore,
// has a standby copy here); otherwise a
// *NotLocalError naming the owner.
func (s *ReadOnlyStore) Get(key []byte) ([]byte, bool, error) {
	md, err := s.a.KeyOwner(s.name, key)
	if err != nil {
		return nil, false, err
	}
	s.a.iq.mu.RLock()
	kv := s.a.iq.stores[s.name][md.Partition]
	s.a.iq.mu.RUnlock()
	if kv == nil && s.stale {
		if v, ok, found, err := s.a.standbyGet(s.name, md.Partition, key); found || err != nil {
			return v, ok, err
		}
	}
	if kv == nil {
		return nil, false, &NotLocalError{Store: s.name, Partition: md.Partition, Owner: md.Owner}
	}
	return kv.Get(key)
}

// All calls fn for every entry of the store's local partitions, partition by partition in key
// order, until fn returns false.
func (s *ReadOnlyStore) All(fn func(key, value []byte) bool) error {
	s.a.iq.mu.RLock()
	var kvs []*statestore.KeyValueStore
	for _, p := range slices.Sorted(func(yield func(int32) bool) {
		for p := range s.a.iq.stores[s.name] {
			if !yield(p) {
				return
			}
		}
	}) {
		kvs = append(kvs, s.a.iq.stores[s.name][p])
	}
	s.a.iq.mu.RUnlock()
	for _, kv := range kvs {
		it := kv.All()
		for it.Next() {
			if !fn(it.Key(), it.Value()) {
				return it.Close()
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	return nil
}

// Query reads a typed key from a store of app: the value and whether it exists, or a
// *NotLocalError naming the owner.
func Query[K, V any](app *App, store string, key K, keySerde Serde[K], valueSerde Serde[V]) (V, bool, error) {
	var zero V
	s, err := app.Store(store)
	if err != nil {
		return zero, false, err
	}
	kb, err := keySerde.Serialize(key)
	if err != nil {
		return zero, false, fmt.Errorf("streams: serialize key: %w", err)
	}
	raw, ok, err := s.Get(kb)
	if err != nil || !ok {
		return zero, ok, err
	}
	v, err := valueSerde.Deserialize(raw)
	return v, err == nil, err
}

// Handler serves interactive queries over HTTP, for users to mount (e.g. under /streams/):
//
//	GET {prefix}/metadata                   {"application_id", "application_server", "hosts": {endpoint: [task ids]}}
//	GET {prefix}/stores/{store}/keys/{key}  the value's bytes (200), 404 if absent, 307 to the owner's
//	                                        same path when another instance runs the key, 503 if unknown
//	GET {prefix}/stores/{store}/keys        the local entries: [{"key": "...", "value": base64}]
//
// {key} is the key's serialized bytes, path-escaped (a string key is itself). Errors are
// {"error": "..."}. prefix is the path the handler is mounted at ("" for the root).
func (a *App) Handler(prefix string) http.Handler {
	prefix = strings.TrimSuffix(prefix, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/metadata", func(w http.ResponseWriter, _ *http.Request) {
		a.iq.mu.RLock()
		hosts := map[string][]string{}
		for ep, ts := range a.iq.hosts {
			for _, t := range ts {
				hosts[ep] = append(hosts[ep], t.String())
			}
		}
		a.iq.mu.RUnlock()
		writeJSON(w, http.StatusOK, map[string]any{"application_id": a.cfg.ApplicationID,
			"application_server": a.cfg.ApplicationServer, "hosts": hosts})
	})
	mux.HandleFunc("GET "+prefix+"/stores/{store}/keys/{key}", func(w http.ResponseWriter, r *http.Request) {
		store, key := r.PathValue("store"), []byte(r.PathValue("key"))
		s, err := a.Store(store)
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		v, ok, err := s.Get(key)
		var nl *NotLocalError
		switch {
		case errors.As(err, &nl) && nl.Owner != "" && nl.Owner != a.cfg.ApplicationServer:
			w.Header().Set("Location", "http://"+nl.Owner+r.URL.EscapedPath())
			writeJSON(w, http.StatusTemporaryRedirect, map[string]string{"error": err.Error(), "owner": nl.Owner})
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		case !ok:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no key %q in store %s", key, store)})
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(v)
		}
	})
	mux.HandleFunc("GET "+prefix+"/stores/{store}/keys", func(w http.ResponseWriter, r *http.Request) {
		s, err := a.Store(r.PathValue("store"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		type entry struct {
			Key   string `json:"key"`
			Value []byte `json:"value"`
		}
		entries := []entry{}
		err = s.All(func(k, v []byte) bool {
			entries = append(entries, entry{string(k), slices.Clone(v)})
			return true
		})
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, entries)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
