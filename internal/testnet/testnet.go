// Package testnet helps tests cut a client off the network as a killed process would be: every
// connection dialled through a Dialer closes at once on Sever, and new dials fail.
package testnet

import (
	"context"
	"errors"
	"net"
	"sync"
)

// ErrSevered is returned by dials after Sever.
var ErrSevered = errors.New("testnet: severed")

// Dialer dials TCP connections that Sever closes all at once. Pass its Dial as kgo.Dialer.
// It is safe for concurrent use.
type Dialer struct {
	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

// Dial dials network/address, or fails with ErrSevered after Sever.
func (d *Dialer) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return nil, ErrSevered
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, address)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

// Sever closes every connection dialled so far and makes later dials fail. Idempotent.
func (d *Dialer) Sever() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}
