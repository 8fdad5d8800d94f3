package web

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// The buffers a socket keeps for its whole life. net/http hands a hijacked connection over with a
// 4 KiB read buffer and a 4 KiB write buffer, which is most of what an idle socket costs; chat
// frames are a few hundred bytes, so these hold a whole typical frame and anything larger goes
// straight between the connection and the frame (bufio reads and writes past a full buffer
// directly).
const (
	socketReadBuffer  = 512
	socketWriteBuffer = 1024
)

// acceptSocket upgrades the request with coder/websocket, giving the connection small buffers
// (socketReadBuffer, socketWriteBuffer) instead of net/http's. It returns Accept's error, after
// which the client has had its answer.
func acceptSocket(w http.ResponseWriter, r *http.Request, opts *websocket.AcceptOptions) (*websocket.Conn, error) {
	return websocket.Accept(smallBufferWriter{w}, r, opts)
}

// smallBufferWriter is the request's ResponseWriter whose Hijack swaps net/http's buffers for
// small ones. Bytes the client sent after its request and that net/http had already read stay
// first in line.
type smallBufferWriter struct{ http.ResponseWriter }

// Hijack takes the connection over from net/http; it returns the underlying Hijack's error, or
// http.ErrNotSupported when the writer cannot be hijacked.
func (w smallBufferWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		conn = &prefixedConn{Conn: conn, early: bytes.NewReader(bytes.Clone(early))}
	}
	return conn, bufio.NewReadWriter(bufio.NewReaderSize(conn, socketReadBuffer), bufio.NewWriterSize(conn, socketWriteBuffer)), nil
}

// Unwrap lets http.ResponseController reach the request's own writer.
func (w smallBufferWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// prefixedConn reads the bytes net/http had buffered before the connection's own.
type prefixedConn struct {
	net.Conn
	early *bytes.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) {
	if c.early.Len() > 0 {
		return c.early.Read(p)
	}
	return c.Conn.Read(p)
}

var _ io.Reader = (*prefixedConn)(nil)
