package console

import "net"

type net0 struct{}

// closedPort returns a 127.0.0.1 address where nothing listens (bound, then closed).
func (net0) closedPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}
