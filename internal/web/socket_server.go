package web

import (
	"context"
	"time"

	"github.com/coder/websocket"
)

// RunSockets pings the server's sockets until ctx ends (internal/app runs it beside the HTTP
// server).
func (s *Server) RunSockets(ctx context.Context) { s.sockets.run(ctx) }

// CloseSockets closes every socket with 1001 (going away), for a graceful shutdown: clients
// reconnect to another replica, or to this one when it is back, and resume.
// New upgrades are refused from then on (503), and it waits up to 5 s for the socket handlers to
// return, so that nothing they do outlives the database and the bus.
func (s *Server) CloseSockets() {
	p := s.sockets
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	s.DropSockets()
	done := make(chan struct{})
	go func() { p.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.log.Warn("socket handlers still running 5 s after shutdown began")
	}
}

// DropSockets closes every socket connected now with 1001 (going away), as a restart would, and
// goes on accepting new ones: clients reconnect and resume.
func (s *Server) DropSockets() {
	p := s.sockets
	p.mu.Lock()
	all := make([]*sock, 0, len(p.socks))
	for k := range p.socks {
		all = append(all, k)
	}
	p.mu.Unlock()
	for _, k := range all {
		k.finish(websocket.StatusGoingAway, "server restarting")
	}
}
