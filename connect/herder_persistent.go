package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// PersistentHerder wraps a Herder and keeps every connector's config and target state in a JSON
// file, rewritten atomically (temp file, fsync, rename) after each successful create, update,
// delete, pause, resume or stop. It is the standalone worker's stand-in for Kafka's config topic:
// the herder itself stays in-memory and knows nothing of the file.
//
// Lock order: PersistentHerder.mu, then the wrapped herder's locks.
type PersistentHerder struct {
	Herder
	path string

	mu struct {
		sync.Mutex
		entries map[string]persistedConnector
	}
}

// persistedConnector is one connector in the config file.
type persistedConnector struct {
	Name        string            `json:"name"`
	Config      map[string]string `json:"config"`
	TargetState TargetState       `json:"target_state"`
}

type configFile struct {
	Connectors []persistedConnector `json:"connectors"`
}

// readConfigFile reads a connector config file; a missing file holds no connectors.
func readConfigFile(path string) ([]persistedConnector, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f configFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("connect: %s: %w", path, err)
	}
	return f.Connectors, nil
}

// NewPersistentHerder loads path's connectors into h (each in its saved target state) and returns
// the wrapper. A saved connector h rejects (say, its plugin is gone) is logged by the caller through
// the returned errors and kept in the file, so its config is not lost; deleting it removes it.
func NewPersistentHerder(h Herder, path string) (*PersistentHerder, []error, error) {
	saved, err := readConfigFile(path)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	p := &PersistentHerder{Herder: h, path: path}
	p.mu.entries = map[string]persistedConnector{}
	var loadErrs []error
	for _, c := range saved {
		if c.Name == "" {
			continue
		}
		if c.TargetState == "" {
			c.TargetState = TargetStarted
		}
		if _, _, err := h.PutConnectorConfig(c.Name, c.Config, false, c.TargetState); err != nil {
			loadErrs = append(loadErrs, fmt.Errorf("connector %s from %s: %w", c.Name, path, err))
		}
		p.mu.entries[c.Name] = c
	}
	return p, loadErrs, nil
}

// PutConnectorConfig implements Herder and saves the new config.
func (p *PersistentHerder) PutConnectorConfig(name string, config map[string]string, allowReplace bool, initial TargetState) (ConnectorInfo, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	info, created, err := p.Herder.PutConnectorConfig(name, config, allowReplace, initial)
	if err != nil {
		return info, created, err
	}
	target := p.mu.entries[name].TargetState
	if created || target == "" {
		target = initial
		if target == "" {
			target = TargetStarted
		}
	}
	p.mu.entries[name] = persistedConnector{Name: name, Config: maps.Clone(info.Config), TargetState: target}
	return info, created, p.saveLocked()
}

// DeleteConnector implements Herder and removes the connector from the file.
func (p *PersistentHerder) DeleteConnector(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.Herder.DeleteConnector(name)
	_, saved := p.mu.entries[name]
	if err != nil && !(errors.Is(err, ErrNotFound) && saved) {
		return err
	}
	// NB: a saved connector the herder rejected at load is not running but can still be deleted.
	delete(p.mu.entries, name)
	return p.saveLocked()
}

// SetTargetState implements Herder and saves the target state.
func (p *PersistentHerder) SetTargetState(name string, target TargetState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.Herder.SetTargetState(name, target); err != nil {
		return err
	}
	if e, ok := p.mu.entries[name]; ok && e.TargetState != target {
		e.TargetState = target
		p.mu.entries[name] = e
		return p.saveLocked()
	}
	return nil
}

func (p *PersistentHerder) saveLocked() error {
	f := configFile{Connectors: make([]persistedConnector, 0, len(p.mu.entries))}
	for _, e := range p.mu.entries {
		f.Connectors = append(f.Connectors, e)
	}
	sort.Slice(f.Connectors, func(i, j int) bool { return f.Connectors[i].Name < f.Connectors[j].Name })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	// NB: writeFileAtomic (offsets.go) prefixes its errors with "offset store <path>".
	if err := writeFileAtomic(p.path, append(data, '\n')); err != nil {
		return fmt.Errorf("connect: saving connector configs: %w", err)
	}
	return nil
}

// RunStandaloneWithConfigFile is RunStandalone whose connector configs live in configPath: the
// saved connectors are started before the REST API answers (it replies 503 until then), and every
// change made through REST is saved. loadErrs are saved connectors that could not be started.
func RunStandaloneWithConfigFile(ctx context.Context, props map[string]string, opts Options, configPath string) (r *Runner, loadErrs []error, err error) {
	cfg, err := ParseWorkerConfig(props)
	if err != nil {
		return nil, nil, err
	}
	srv, addr, opts, err := startServer(ctx, cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	if opts.WorkerID == "" {
		opts.WorkerID = addr
	}
	h, err := NewStandalone(cfg, opts)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	p, loadErrs, err := NewPersistentHerder(h, configPath)
	if err != nil {
		srv.Close()
		h.Close()
		return nil, nil, err
	}
	srv.setHerder(p)
	registerStatus(opts.Metrics, h)
	return &Runner{Herder: h, Server: srv, Addr: addr, metrics: opts.Metrics}, loadErrs, nil
}
