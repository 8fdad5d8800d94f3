package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// The baseline server is a bare WebSocket server (github.com/coder/websocket, like Beckon) that
// speaks just enough of docs/REALTIME.md for the socket scenarios to drive it with the very same
// client code as Beckon: auth answers ready, sub joins a conversation's room, send is answered
// with an ack and relayed as a msg frame to every socket in the room. It stores nothing, checks
// nothing and has no bus: what it costs is the floor of JSON over WebSockets in Go, so Beckon's
// figures read as a ratio to it. Each socket has its reader (the handler's goroutine) and a
// bounded queue drained by a writer goroutine that runs only while something is queued, the
// shape any hub has that must neither let one slow reader stall the others nor spend a goroutine
// on an idle socket.
type baselineServer struct {
	mu       sync.Mutex
	rooms    map[string]*room
	nextID   atomic.Int64
	watchers map[*baseConn]struct{} // sockets that asked for Live View
}

// room is one conversation: its sequence, its followers and its last messages (so that a sub
// with "after" gets what it missed, as on Beckon; bounded, unlike Beckon's database).
type room struct {
	seq       int64
	followers map[*baseConn]struct{}
	recent    [][]byte // encoded msg frames, seq last-len(recent)+1 … last
}

const baselineRecent = 32

// baseConn is one socket of the baseline server.
type baseConn struct {
	c      *websocket.Conn
	ctx    context.Context
	author string // "visitor" or "rep"
	conv   string // a visitor's own conversation, once it has one (reader only)

	mu      sync.Mutex
	queue   [][]byte
	running bool // a writer goroutine is draining queue
	closed  bool
}

// baselineQueue is how many frames may wait for a socket before it counts as a slow consumer,
// as on Beckon.
const baselineQueue = 4096

func newBaselineServer() *baselineServer {
	return &baselineServer{rooms: map[string]*room{}, watchers: map[*baseConn]struct{}{}}
}

// handler serves the baseline's routes: the two sockets, hello, accept and readiness.
func (b *baselineServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /m/v1/socket", func(w http.ResponseWriter, r *http.Request) { b.serveSocket(w, r, "visitor") })
	mux.HandleFunc("GET /console/socket", func(w http.ResponseWriter, r *http.Request) { b.serveSocket(w, r, "rep") })
	mux.HandleFunc("POST /m/v1/hello", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&v); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		n := b.nextID.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"visitor_id":"v_%d","visitor_token":"bl_%d"}`, n, n)
	})
	// A page view is relayed at once, as one Live View row, to every socket watching: no storage,
	// no coalescing (the liveview scenario's baseline).
	mux.HandleFunc("POST /m/v1/page", func(w http.ResponseWriter, r *http.Request) {
		var p struct{ URL, Title string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&p); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		row, _ := json.Marshal(map[string]any{"t": "live", "op": "upsert", "visitors": []map[string]string{{"id": tok, "page_url": p.URL, "page_title": p.Title}}})
		b.mu.Lock()
		ws := make([]*baseConn, 0, len(b.watchers))
		for c := range b.watchers {
			ws = append(ws, c)
		}
		b.mu.Unlock()
		for _, c := range ws {
			c.send(row)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/v1/conversations/{id}/accept", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 16<<10))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"status":"active"}`, r.PathValue("id"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /debug/mem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(readSelfMem())
	})
	return mux
}

// baseIn is a frame a client sends, as the baseline reads it.
type baseIn struct {
	T     string `json:"t"`
	ID    string `json:"id"`
	Conv  string `json:"conv"`
	Text  string `json:"text"`
	After int64  `json:"after"`
}

func (b *baselineServer) serveSocket(w http.ResponseWriter, r *http.Request, author string) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	c.SetReadLimit(64 << 10)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	bc := &baseConn{c: c, ctx: ctx, author: author}
	defer b.leave(bc)
	if author == "rep" {
		bc.send([]byte(`{"t":"ready","user_id":"usr_baseline","presence":"available"}`))
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var f baseIn
		if json.Unmarshal(data, &f) != nil || f.T == "" {
			bc.send([]byte(`{"t":"error","code":"malformed","message":"not a frame"}`))
			continue
		}
		switch f.T {
		case "auth":
			bc.send([]byte(`{"t":"ready","visitor_id":"v_baseline","conversation":null}`))
		case "ping":
			bc.send([]byte(`{"t":"pong"}`))
		case "sub":
			b.subscribe(bc, f.Conv, f.After)
		case "unsub":
			b.mu.Lock()
			if rm := b.rooms[f.Conv]; rm != nil {
				delete(rm.followers, bc)
			}
			b.mu.Unlock()
		case "send":
			b.publish(bc, f)
		case "live":
			b.mu.Lock()
			b.watchers[bc] = struct{}{}
			b.mu.Unlock()
			bc.send([]byte(`{"t":"live","op":"snapshot","visitors":[]}`))
		case "typing", "read", "active":
		default:
			bc.send([]byte(`{"t":"error","code":"malformed","message":"unknown frame type"}`))
		}
	}
}

// subscribe adds bc to conv's followers and sends it the recent messages after the given seq.
func (b *baselineServer) subscribe(bc *baseConn, conv string, after int64) {
	b.mu.Lock()
	rm := b.rooms[conv]
	if rm == nil {
		rm = &room{followers: map[*baseConn]struct{}{}}
		b.rooms[conv] = rm
	}
	rm.followers[bc] = struct{}{}
	first := rm.seq - int64(len(rm.recent)) + 1
	var backlog [][]byte
	for i, m := range rm.recent {
		if first+int64(i) > after {
			backlog = append(backlog, m)
		}
	}
	b.mu.Unlock()
	for _, m := range backlog {
		bc.send(m)
	}
}

// publish numbers a message, acknowledges it to its sender and relays it to the room.
func (b *baselineServer) publish(bc *baseConn, f baseIn) {
	conv := f.Conv
	if conv == "" && bc.author == "visitor" {
		conv = bc.conv
	}
	b.mu.Lock()
	if conv == "" {
		conv = "conv_" + strconv.FormatInt(b.nextID.Add(1), 10)
		bc.conv = conv
		// A visitor's messenger shows its own conversation: its socket follows it.
		b.rooms[conv] = &room{followers: map[*baseConn]struct{}{bc: {}}}
	}
	rm := b.rooms[conv]
	if rm == nil {
		rm = &room{followers: map[*baseConn]struct{}{}}
		b.rooms[conv] = rm
	}
	rm.seq++
	seq := rm.seq
	msg, _ := json.Marshal(map[string]any{"t": "msg", "conv": conv, "seq": seq, "id": "msg_" + strconv.FormatInt(seq, 10),
		"author": bc.author, "name": "Load", "text": f.Text, "at": time.Now().UTC().Format(time.RFC3339Nano)})
	rm.recent = append(rm.recent, msg)
	if len(rm.recent) > baselineRecent {
		rm.recent = rm.recent[1:]
	}
	followers := make([]*baseConn, 0, len(rm.followers))
	for c := range rm.followers {
		followers = append(followers, c)
	}
	b.mu.Unlock()
	ack, _ := json.Marshal(map[string]any{"t": "ack", "id": f.ID, "conv": conv, "seq": seq})
	bc.send(ack)
	for _, c := range followers {
		c.send(msg)
	}
}

func (b *baselineServer) leave(bc *baseConn) {
	bc.mu.Lock()
	bc.closed, bc.queue = true, nil
	bc.mu.Unlock()
	b.mu.Lock()
	for _, rm := range b.rooms {
		delete(rm.followers, bc)
	}
	delete(b.watchers, bc)
	b.mu.Unlock()
}

// send queues a frame and starts the writer if it is not running; a socket whose queue is full
// is closed as a slow consumer (4009), as on Beckon.
func (bc *baseConn) send(frame []byte) {
	bc.mu.Lock()
	if bc.closed {
		bc.mu.Unlock()
		return
	}
	if len(bc.queue) >= baselineQueue {
		bc.closed, bc.queue = true, nil
		bc.mu.Unlock()
		go bc.c.Close(4009, "slow consumer")
		return
	}
	bc.queue = append(bc.queue, frame)
	start := !bc.running
	bc.running = true
	bc.mu.Unlock()
	if start {
		go bc.write()
	}
}

// write drains the queue, then returns; send starts it again.
func (bc *baseConn) write() {
	for {
		bc.mu.Lock()
		if len(bc.queue) == 0 || bc.closed {
			bc.running, bc.queue = false, nil
			bc.mu.Unlock()
			return
		}
		m := bc.queue[0]
		bc.queue = bc.queue[1:]
		bc.mu.Unlock()
		wctx, cancel := context.WithTimeout(bc.ctx, 10*time.Second)
		err := bc.c.Write(wctx, websocket.MessageText, m)
		cancel()
		if err != nil {
			bc.mu.Lock()
			bc.closed, bc.queue, bc.running = true, nil, false
			bc.mu.Unlock()
			bc.c.CloseNow()
			return
		}
	}
}

// memSample is a process's memory as the baseline reports it about itself.
type memSample struct {
	RSS        int64 `json:"rss_bytes"`
	HeapInuse  int64 `json:"heap_inuse_bytes"`
	StackInuse int64 `json:"stack_inuse_bytes"`
	Goroutines int   `json:"goroutines"`
}

func readSelfMem() memSample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, _ := procRSS(os.Getpid())
	return memSample{RSS: rss, HeapInuse: int64(ms.HeapInuse), StackInuse: int64(ms.StackInuse), Goroutines: runtime.NumGoroutine()}
}

// baseline is a running baseline server: in this process, or in a child process.
type baseline struct {
	URL  string
	PID  int // the process serving it (this one when in process)
	stop func()
}

// startBaseline starts the baseline server on 127.0.0.1: in a child process running this same
// binary's baseline-server command (child = true), or on a goroutine of this process.
func startBaseline(ctx context.Context, child bool) (*baseline, error) {
	if !child {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: newBaselineServer().handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(l)
		return &baseline{URL: "http://" + l.Addr().String(), PID: os.Getpid(), stop: func() { srv.Close() }}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "baseline-server", "-addr", "127.0.0.1:0", "-lifetime", "2h")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		stdin.Close() // the child exits when its standard input closes
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
	}()
	var first string
	select {
	case first = <-line:
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
	}
	var hello struct {
		Addr string `json:"addr"`
	}
	if json.Unmarshal([]byte(first), &hello) != nil || hello.Addr == "" {
		stop()
		return nil, fmt.Errorf("baseline-server did not report its address (got %q)", first)
	}
	return &baseline{URL: "http://" + hello.Addr, PID: cmd.Process.Pid, stop: stop}, nil
}

// cmdBaselineServer is the baseline-server command: it serves the baseline on -addr, prints
// {"addr": …} on one line, and exits when its standard input closes, on SIGINT or SIGTERM, or
// after -lifetime.
func cmdBaselineServer(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("beckon-load baseline-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	lifetime := fs.Duration("lifetime", time.Hour, "exit after this long (at most 24h)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *lifetime <= 0 || *lifetime > 24*time.Hour {
		return errors.New("-lifetime must be in (0, 24h]")
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: the baseline listens on loopback only", *addr)
	}
	raiseFileLimit()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newBaselineServer().handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	defer srv.Close()
	if err := json.NewEncoder(out).Encode(map[string]string{"addr": l.Addr().String()}); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *lifetime)
	defer cancel()
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-ctx.Done():
	case <-eof:
	}
	return nil
}
