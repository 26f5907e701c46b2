package metadata

import (
	"sync"
	"sync/atomic"
)

// Update is what a subscriber receives: the new image and what changed since the previous one it saw.
type Update struct {
	Image   *Image
	Changes *Changes
}

// Publisher hands each new image to its subscribers (handlers, partitions, group coordinators).
//
// Contract:
//   - Publish is called by one goroutine, the metadata loader, in log order.
//   - Subscribers are called synchronously, on the Publish goroutine, in subscription order, one image at
//     a time: a subscriber sees every image published after it subscribed, in order, with no gaps (so
//     the Changes it receives add up). NB: there is no goroutine per subscriber; a callback must be quick
//     and must not block on I/O or on anything that waits for the next Publish. A subscriber with slow work
//     records what it needs and signals its own goroutine.
//   - A callback must not call Publish, Subscribe or a cancel func (they take the lock Publish holds).
//   - Current is lock-free and may be called from any goroutine, including callbacks.
type Publisher struct {
	current atomic.Pointer[Image]
	mu      struct {
		sync.Mutex
		subs   []*subscription
		nextID int
	}
}

type subscription struct {
	id   int
	name string
	fn   func(Update)
}

// NewPublisher starts a publisher at img (usually Empty or the image loaded from a snapshot).
func NewPublisher(img *Image) *Publisher {
	p := &Publisher{}
	p.current.Store(img)
	return p
}

// Current returns the latest published image.
func (p *Publisher) Current() *Image { return p.current.Load() }

// Subscribe registers fn under name (used in logs) and returns the image current at subscription: fn is
// called with every image published after it, and the Changes of the first call are relative to the
// returned image. cancel stops delivery; after it returns fn is not called again.
func (p *Publisher) Subscribe(name string, fn func(Update)) (current *Image, cancel func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.nextID++
	s := &subscription{id: p.mu.nextID, name: name, fn: fn}
	p.mu.subs = append(p.mu.subs, s)
	var once sync.Once
	return p.current.Load(), func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			for i, x := range p.mu.subs {
				if x.id == s.id {
					p.mu.subs = append(p.mu.subs[:i:i], p.mu.subs[i+1:]...)
					break
				}
			}
		})
	}
}

// Publish makes img current and delivers it with ch to every subscriber before returning.
func (p *Publisher) Publish(img *Image, ch *Changes) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current.Store(img)
	u := Update{Image: img, Changes: ch}
	for _, s := range p.mu.subs {
		s.fn(u)
	}
}
