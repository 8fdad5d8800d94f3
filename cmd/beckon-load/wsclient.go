package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// dialers hands out HTTP clients bound to loopback source addresses 127.0.0.1 … 127.0.0.N, so that
// more sockets than one address has ephemeral ports (about 28,000 by default on Linux) can be
// opened. Connection i leaves from address i mod N. The server then sees peers other than
// 127.0.0.1, so it must trust the whole of 127.0.0.0/8 as proxies (BECKON_TRUSTED_PROXIES) for the
// X-Forwarded-For addresses the tool sends to count.
type dialers struct {
	clients []*http.Client
}

// maxSources bounds -sources: 127.0.0.1 … 127.0.0.250.
const maxSources = 250

func newDialers(sources int) (*dialers, error) {
	if sources < 1 || sources > maxSources {
		return nil, fmt.Errorf("-sources must be in [1, %d]", maxSources)
	}
	d := &dialers{}
	for s := 1; s <= sources; s++ {
		nd := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(s))}}
		tr := &http.Transport{DialContext: nd.DialContext, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
		// No Client.Timeout: coder/websocket wants cancellation by context; every call here has one.
		d.clients = append(d.clients, &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}})
	}
	return d, nil
}

func (d *dialers) client(i int) *http.Client { return d.clients[i%len(d.clients)] }

// frame is any frame the server sends (docs/REALTIME.md), as the load tool reads it. "conv" is a
// conversation id in most frames but a whole conversation in "conv" frames; ConvID holds it when
// it is a string.
type frame struct {
	T            string          `json:"t"`
	ID           string          `json:"id"`
	ConvRaw      json.RawMessage `json:"conv"`
	Seq          int64           `json:"seq"`
	Author       string          `json:"author"`
	Text         string          `json:"text"`
	Code         string          `json:"code"`
	Message      string          `json:"message"`
	Conversation *struct {
		ID      string `json:"id"`
		LastSeq int64  `json:"last_seq"`
	} `json:"conversation"`
	ConvID string `json:"-"`
	// Live View frames.
	Op       string    `json:"op"`
	Visitors []liveRow `json:"visitors"`
}

// liveRow is what the liveview scenario reads of a Live View row.
type liveRow struct {
	ID        string `json:"id"`
	PageTitle string `json:"page_title"`
}

// parseFrame decodes one server frame. It returns an error for anything but a JSON object with a
// "t".
func parseFrame(b []byte) (*frame, error) {
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if f.T == "" {
		return nil, errors.New(`frame without "t"`)
	}
	if len(f.ConvRaw) > 0 && f.ConvRaw[0] == '"' {
		json.Unmarshal(f.ConvRaw, &f.ConvID)
	}
	return &f, nil
}

// sock is one client socket: a read loop that hands frames first to whoever awaits one
// (expect), then to the scenario's handler.
type sock struct {
	c       *websocket.Conn
	mu      sync.Mutex
	waiters []*waiter
	handler atomic.Pointer[func(*frame, time.Time)]
	done    chan struct{}
	endErr  error // why the read loop ended; read after done is closed
	frames  atomic.Int64
	errors  atomic.Int64 // error frames
	junk    atomic.Int64 // frames that did not parse

	// gap, when set, spaces the frames this socket sends (Beckon closes a socket that sends more
	// than 50 frames a second after a burst of 200).
	gap      time.Duration
	gapMu    sync.Mutex
	lastSent time.Time
}

type waiter struct {
	match func(*frame) bool
	ch    chan *frame
}

// dialSocket opens a socket to an http(s) URL (turned into ws(s)) with the given headers and
// starts its read loop.
func dialSocket(ctx context.Context, client *http.Client, u string, hdr http.Header) (*sock, error) {
	u = "ws" + strings.TrimPrefix(u, "http")
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: client, HTTPHeader: hdr})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %d %w", u, resp.StatusCode, err)
		}
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			return nil, fmt.Errorf("dial %s: %w (the source address ran out of ephemeral ports: dial from more loopback addresses with -sources)", u, err)
		}
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	c.SetReadLimit(1 << 20)
	s := &sock{c: c, done: make(chan struct{})}
	go s.readLoop()
	return s, nil
}

func (s *sock) readLoop() {
	defer close(s.done)
	for {
		_, b, err := s.c.Read(context.Background())
		at := time.Now()
		if err != nil {
			s.endErr = err
			return
		}
		s.frames.Add(1)
		f, err := parseFrame(b)
		if err != nil {
			s.junk.Add(1)
			continue
		}
		if f.T == "error" {
			s.errors.Add(1)
		}
		s.mu.Lock()
		for i, w := range s.waiters {
			if w.match(f) {
				w.ch <- f
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
		if h := s.handler.Load(); h != nil {
			(*h)(f, at)
		}
	}
}

// expect registers interest in the next frame that matches; call it before sending what the
// frame answers. Await the returned waiter with await.
func (s *sock) expect(match func(*frame) bool) *waiter {
	w := &waiter{match: match, ch: make(chan *frame, 1)}
	s.mu.Lock()
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	return w
}

// await waits for w's frame, the end of the socket, or ctx.
func (s *sock) await(ctx context.Context, w *waiter) (*frame, error) {
	select {
	case f := <-w.ch:
		return f, nil
	case <-s.done:
		select {
		case f := <-w.ch:
			return f, nil
		default:
		}
		return nil, fmt.Errorf("socket closed: %v", closeReason(s.endErr))
	case <-ctx.Done():
		s.mu.Lock()
		for i, x := range s.waiters {
			if x == w {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
		return nil, ctx.Err()
	}
}

// request sends v and waits for the first frame that matches.
func (s *sock) request(ctx context.Context, v any, match func(*frame) bool) (*frame, error) {
	w := s.expect(match)
	if err := s.send(ctx, v); err != nil {
		return nil, err
	}
	return s.await(ctx, w)
}

// send writes v as one JSON text frame.
func (s *sock) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s.gap > 0 {
		s.gapMu.Lock()
		defer s.gapMu.Unlock()
		if wait := s.gap - time.Since(s.lastSent); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		s.lastSent = time.Now()
	}
	if err := s.c.Write(ctx, websocket.MessageText, b); err != nil {
		// Say why the socket ended when it did (the server closed it with a code, usually).
		select {
		case <-s.done:
			return fmt.Errorf("%w (socket ended: %s)", err, closeReason(s.endErr))
		case <-time.After(time.Second):
			return err
		}
	}
	return nil
}

// onFrame installs the scenario's handler, called on the read loop for every frame (after any
// waiter took it); it must not block.
func (s *sock) onFrame(h func(*frame, time.Time)) { s.handler.Store(&h) }

// close closes the socket normally, waiting for the server's answer for at most a few seconds.
func (s *sock) close() {
	go func() {
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			s.c.CloseNow()
		}
	}()
	s.c.Close(websocket.StatusNormalClosure, "")
}

// closed reports whether the socket's read loop has ended.
func (s *sock) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// closeReason describes how a socket ended: its close code and reason when there was one.
func closeReason(err error) string {
	if err == nil {
		return "open"
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("close %d %s", int(ce.Code), ce.Reason)
	}
	return err.Error()
}

// isT matches frames of one type.
func isT(t string) func(*frame) bool { return func(f *frame) bool { return f.T == t } }

// answers matches the ack or error frame about the client id given.
func answers(id string) func(*frame) bool {
	return func(f *frame) bool { return (f.T == "ack" || f.T == "error") && f.ID == id }
}

// forEach runs do(i) for i in [0, n) from at most par goroutines, stopping early at ctx's end.
// It returns how many calls failed and the first error.
func forEach(ctx context.Context, n, par int, do func(ctx context.Context, i int) error) (failed int, first error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, par))
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			mu.Lock()
			failed += n - i
			if first == nil {
				first = ctx.Err()
			}
			mu.Unlock()
			wg.Wait()
			return failed, first
		}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := do(ctx, i); err != nil {
				mu.Lock()
				failed++
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	return failed, first
}
