package web

import (
	"context"

	"github.com/coder/websocket"
)

// RunSockets pings the server's sockets until ctx ends (internal/app runs it beside the HTTP
// server).
func (s *Server) RunSockets(ctx context.Context) { s.sockets.run(ctx) }

// CloseSockets closes every socket with 1001 (going away), for a graceful shutdown: clients
// reconnect to another replica, or to this one when it is back, and resume.
func (s *Server) CloseSockets() {
	s.sockets.mu.Lock()
	all := make([]*sock, 0, len(s.sockets.socks))
	for k := range s.sockets.socks {
		all = append(all, k)
	}
	s.sockets.mu.Unlock()
	for _, k := range all {
		k.finish(websocket.StatusGoingAway, "server shutting down")
	}
}

// SocketCount returns how many sockets are connected to this server.
func (s *Server) SocketCount() int {
	s.sockets.mu.Lock()
	defer s.sockets.mu.Unlock()
	return len(s.sockets.socks)
}
