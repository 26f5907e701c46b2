package streams

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streams/gregor/statestore"
)

// standbys is the App's standby replicas (Config.NumStandbyReplicas): the tasks the group's
// leader asked this instance to shadow, whose stores a background goroutine keeps close to the
// end of their changelogs by restoring the tail, so that the task resumes here after restoring
// little when its active owner fails. A task active on this instance is never refreshed.
type standbys struct {
	mu struct {
		sync.Mutex
		// tasks are this instance's standby tasks in the current assignment; active the tasks
		// open here. A refresh of a task's stores runs with mu held, so a task never opens while
		// its standby copy is being refreshed.
		tasks  []taskID
		active map[taskID]bool
	}
	// restored counts the changelog records the refreshes applied.
	restored atomic.Int64
	done     chan struct{}
	wg       sync.WaitGroup
}

// standbyActivate marks a task open on this instance, waiting for a refresh of its standby
// copy to end.
func (a *App) standbyActivate(id taskID) {
	a.standby.mu.Lock()
	defer a.standby.mu.Unlock()
	if a.standby.mu.active == nil {
		a.standby.mu.active = map[taskID]bool{}
	}
	a.standby.mu.active[id] = true
}

// standbyDeactivate marks a task closed on this instance.
func (a *App) standbyDeactivate(id taskID) {
	a.standby.mu.Lock()
	defer a.standby.mu.Unlock()
	delete(a.standby.mu.active, id)
}

// setStandbyTasks records the standby tasks of a new assignment.
func (a *App) setStandbyTasks(ids []taskID) {
	a.standby.mu.Lock()
	defer a.standby.mu.Unlock()
	a.standby.mu.tasks = sortedTasks(ids)
}

// startStandbys starts the refresher when the App has stores (for standby replicas and
// warm-up replicas; it is idle while the assignment gives it none).
func (a *App) startStandbys() {
	if len(a.topo.stores) == 0 {
		return
	}
	a.standby.done = make(chan struct{})
	interval := min(max(a.cfg.CommitInterval, 100*time.Millisecond), time.Second)
	a.standby.wg.Add(1)
	go func() {
		defer a.standby.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-a.standby.done:
				return
			case <-tick.C:
			}
			a.refreshStandbys()
		}
	}()
}

// stopStandbys stops the refresher and waits for it. Idempotent.
func (a *App) stopStandbys() {
	if a.standby.done == nil {
		return
	}
	select {
	case <-a.standby.done:
	default:
		close(a.standby.done)
	}
	a.standby.wg.Wait()
}

// refreshStandbys restores the changelog tail of each standby task's stores, one task at a time.
func (a *App) refreshStandbys() {
	a.standby.mu.Lock()
	ids := slices.Clone(a.standby.mu.tasks)
	a.standby.mu.Unlock()
	for _, id := range ids {
		select {
		case <-a.standby.done:
			return
		default:
		}
		if err := a.refreshStandby(id); err != nil {
			a.log.Warn("standby refresh failed; retrying at the next interval", "task", id.String(), "err", err)
		}
	}
}

func (a *App) refreshStandby(id taskID) error {
	a.standby.mu.Lock()
	defer a.standby.mu.Unlock()
	if a.standby.mu.active[id] || !slices.Contains(a.standby.mu.tasks, id) {
		return nil
	}
	var st *subtopology
	for _, s := range a.topo.subs {
		if s.id == id.subtopology {
			st = s
		}
	}
	if st == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var restored []*statestore.KeyValueStore
	defer func() { a.positions.set(id, restored) }()
	for _, name := range st.stores {
		opts := a.storeOptions(name, id.partition, a.log.With("standby", id.String()))
		kv, err := openStandbyStore(ctx, a.topo.stores[name], opts)
		if err != nil {
			return fmt.Errorf("store %s: %w", name, err)
		}
		n := kv.Stats().RecordsRestored
		restored = append(restored, kv)
		// NB: closed without a commit: a standby never writes to a changelog.
		if err := kv.Close(); err != nil {
			return fmt.Errorf("store %s: %w", name, err)
		}
		a.standby.restored.Add(n)
	}
	return nil
}

// openStandbyStore opens (and so restores) one store partition by its kind.
func openStandbyStore(ctx context.Context, spec *storeSpec, opts statestore.Options) (*statestore.KeyValueStore, error) {
	switch {
	case spec != nil && spec.kind == windowStore:
		ws, err := statestore.OpenWindowStore(ctx, opts, spec.retention)
		if err != nil {
			return nil, err
		}
		return ws.Store(), nil
	case spec != nil && spec.kind == sessionStore:
		ss, err := statestore.OpenSessionStore(ctx, opts, spec.retention)
		if err != nil {
			return nil, err
		}
		return ss.Store(), nil
	}
	return statestore.Open(ctx, opts)
}

// standbyGet reads key from this instance's standby copy of a key-value store partition; found
// is false when there is none (the task is no standby here, or runs here).
func (a *App) standbyGet(store string, partition int32, key []byte) (value []byte, ok, found bool, err error) {
	st, err := a.storeSub(store)
	if err != nil {
		return nil, false, false, err
	}
	id := taskID{subtopology: st.id, partition: partition}
	a.standby.mu.Lock()
	defer a.standby.mu.Unlock()
	if a.standby.mu.active[id] || !slices.Contains(a.standby.mu.tasks, id) {
		return nil, false, false, nil
	}
	// NB: opened without a changelog: no restore, a read of what the last refresh left.
	opts := a.storeOptions(store, partition, a.log.With("standby", id.String()))
	opts.Changelog = nil
	kv, err := statestore.Open(context.Background(), opts)
	if err != nil {
		return nil, false, false, fmt.Errorf("streams: standby copy of %s/%d: %w", store, partition, err)
	}
	defer kv.Close()
	value, ok, err = kv.Get(key)
	return value, ok, true, err
}
