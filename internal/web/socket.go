package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/realtime"
)

// The visitor and rep sockets (docs/REALTIME.md). A socket has two sides:
//
//   - the reader, the request's own goroutine, reads frames and acts on them (stores a message,
//     then queues its ack);
//   - the writer, started only while something is queued and gone when the queue is empty (an
//     idle socket costs no goroutine for it), turns bus messages into frames and writes them.
//
// Everything that decides what a client sees of a conversation (which sequence numbers it already
// has) is touched only by the writer, one item at a time, so the order of the queue is the order
// of delivery: exactly once, in order, gaps filled from the database.

// Socket limits (docs/REALTIME.md "Limits").
const (
	SocketFrameLimit    = 64 << 10         // bytes a frame may hold
	socketAuthTimeout   = 10 * time.Second // the visitor's auth frame must come within
	socketWriteTimeout  = 10 * time.Second
	socketPingEvery     = 25 * time.Second
	socketQueueLimit    = 4096 // items queued for a socket before it counts as a slow consumer
	socketSendPerSecond = 10   // messages a socket may send a second…
	socketSendBurst     = 20   // …after a burst of this many
	socketFramePerSec   = 50   // frames of any kind a second…
	socketFrameBurst    = 200  // …after this burst; past that the socket is closed (flood)
	socketMalformedMax  = 10   // malformed frames in a row before the socket is closed
)

// Close codes beyond the standard ones.
const (
	closeUnauthenticated websocket.StatusCode = 4001
	closeForbidden       websocket.StatusCode = 4003
	closeFlood           websocket.StatusCode = 4008
	closeSlow            websocket.StatusCode = 4009
)

// inFrame is any frame a client sends; which fields count depends on T.
type inFrame struct {
	T      string `json:"t"`
	Token  string `json:"token"`
	Conv   string `json:"conv"`
	After  int64  `json:"after"`
	ID     string `json:"id"`
	Text   string `json:"text"`
	On     bool   `json:"on"`
	Seq    int64  `json:"seq"`
	Status string `json:"status"`
}

// msgFrame is a message as sockets carry it.
type msgFrame struct {
	T      string    `json:"t"`
	Conv   string    `json:"conv"`
	Seq    int64     `json:"seq"`
	ID     string    `json:"id"`
	Author string    `json:"author"`
	Name   string    `json:"name,omitempty"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

func messageFrame(m *chat.Message) msgFrame {
	return msgFrame{T: "msg", Conv: m.ConversationID, Seq: m.Seq, ID: m.ID, Author: m.Author, Name: m.AuthorName, Text: m.Text, At: m.CreatedAt}
}

type errorFrame struct {
	T       string `json:"t"`
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"`
}

// item is one thing queued for the writer.
type item struct {
	frame  []byte        // a frame ready to write
	msg    *realtime.Msg // or a bus message to turn into frames
	fn     func() []byte // or work to run in the writer's order (following a conversation); may return a frame
	close  websocket.StatusCode
	reason string
}

// follow is what a socket has delivered of one conversation.
type follow struct{ last int64 }

// sock is one connection, visitor or rep.
type sock struct {
	s      *Server
	c      *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	wsID   string
	kind   string // "visitor" or "rep"
	// handle turns a bus message into frames; it runs in the writer.
	handle func(m *realtime.Msg)
	// tick, when set (under mu), runs in the writer at every ping: the rep socket checks its
	// session, the visitor socket follows merges.
	tick  func()
	ipKey string // the client address the per-address socket cap counts it under
	n     uint64 // the socket's sequence number on this server (its ping slice)

	mu      sync.Mutex
	queue   []item
	running bool
	done    bool
	leaves  map[string]func() // bus subjects joined

	follows map[string]*follow // writer only
	// watch holds the ids of the conversations followed (follows' keys, kept under mu), for the
	// pinger's one batched look-up of their last messages.
	watch map[string]struct{}

	sends, frames, typing bucket // reader only
	malformed             int    // reader only
}

func newSock(s *Server, c *websocket.Conn, kind, wsID string) *sock {
	ctx, cancel := context.WithCancel(context.Background())
	c.SetReadLimit(SocketFrameLimit)
	now := time.Now()
	return &sock{s: s, c: c, ctx: ctx, cancel: cancel, kind: kind, wsID: wsID, leaves: map[string]func(){},
		follows: map[string]*follow{},
		watch:   map[string]struct{}{},
		sends:   bucket{tokens: socketSendBurst, at: now}, frames: bucket{tokens: socketFrameBurst, at: now},
		typing: bucket{tokens: 2, at: now}}
}

// Deliver queues a bus message (realtime.Sink). It never blocks: a socket that lets
// socketQueueLimit items pile up is closed as a slow consumer, and resumes after reconnecting.
func (k *sock) Deliver(m *realtime.Msg) {
	k.push(item{msg: m})
}

// send queues a frame.
func (k *sock) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		k.s.log.Error("socket: encoding a frame failed", "err", err)
		return
	}
	k.push(item{frame: b})
}

// sendErr queues an error frame for err, about the client frame with id.
func (k *sock) sendErr(err error, id string) {
	e := errs.As(err)
	if e == nil || e.Kind == errs.Internal {
		k.s.log.Error("socket: internal error", "err", err, "kind", k.kind, "workspace_id", k.wsID)
		k.send(errorFrame{T: "error", Code: "internal", Message: "internal error; try again", ID: id})
		return
	}
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Kind == errs.Unavailable {
		// Its message may name server configuration; the client needs only to try again.
		k.s.log.Warn("socket: unavailable", "err", err, "kind", k.kind, "workspace_id", k.wsID)
		msg = "temporarily unavailable; try again"
	}
	k.send(errorFrame{T: "error", Code: e.Kind.String(), Message: msg, ID: id})
}

// closeWith queues the socket's closing after what is already queued.
func (k *sock) closeWith(code websocket.StatusCode, reason string) {
	k.push(item{close: code, reason: reason})
}

func (k *sock) push(it item) {
	k.mu.Lock()
	if k.done {
		k.mu.Unlock()
		return
	}
	if len(k.queue) >= socketQueueLimit && it.close == 0 {
		k.queue = append(k.queue[:0], item{close: closeSlow, reason: "too slow: reconnect and resume"})
		k.s.metrics.socketSlow.Inc()
	} else {
		k.queue = append(k.queue, it)
	}
	start := !k.running
	k.running = true
	k.mu.Unlock()
	if start {
		go k.write()
	}
}

// write drains the queue, then returns; push starts it again.
func (k *sock) write() {
	defer func() {
		if p := recover(); p != nil {
			k.s.log.Error("socket: panic in the writer", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			k.mu.Lock()
			k.running = false
			k.mu.Unlock()
			k.finish(websocket.StatusInternalError, "internal error")
		}
	}()
	for {
		k.mu.Lock()
		if len(k.queue) == 0 || k.done {
			k.running = false
			k.queue = nil // an idle socket keeps no backing array
			k.mu.Unlock()
			return
		}
		it := k.queue[0]
		k.queue[0] = item{}
		k.queue = k.queue[1:]
		k.mu.Unlock()
		switch {
		case it.close != 0:
			k.finish(it.close, it.reason)
		case it.frame != nil:
			k.writeFrame(it.frame)
		case it.fn != nil:
			if b := it.fn(); b != nil {
				k.writeFrame(b)
			}
		default:
			k.handle(it.msg)
		}
	}
}

// writeFrame writes one frame now; it is called only from the writer (or, before the writer can
// run, from the reader).
func (k *sock) writeFrame(b []byte) {
	ctx, cancel := context.WithTimeout(k.ctx, socketWriteTimeout)
	defer cancel()
	if err := k.c.Write(ctx, websocket.MessageText, b); err != nil {
		k.finish(websocket.StatusGoingAway, "")
		return
	}
	k.s.metrics.socketFrames.Inc()
}

// emit is for handlers running in the writer: encode and write now, in order.
func (k *sock) emit(v any) {
	b, err := json.Marshal(v)
	if err == nil {
		k.writeFrame(b)
	}
}

// isDone reports whether the socket is closing.
func (k *sock) isDone() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.done
}

// finish closes the connection once; the reader then sees the error and cleans up.
func (k *sock) finish(code websocket.StatusCode, reason string) {
	k.mu.Lock()
	if k.done {
		k.mu.Unlock()
		return
	}
	k.done = true
	k.queue = nil
	k.mu.Unlock()
	go func() {
		k.c.Close(code, reason)
		k.cancel()
	}()
}

// join subscribes the socket to a bus subject once.
func (k *sock) join(subject string) error {
	k.mu.Lock()
	_, ok := k.leaves[subject]
	k.mu.Unlock()
	if ok {
		return nil
	}
	leave, err := k.s.deps.Hub.Join(subject, k)
	if err != nil {
		return err
	}
	k.mu.Lock()
	if _, ok := k.leaves[subject]; ok || k.done {
		k.mu.Unlock()
		leave()
		return nil
	}
	k.leaves[subject] = leave
	k.mu.Unlock()
	return nil
}

func (k *sock) part(subject string) {
	k.mu.Lock()
	leave := k.leaves[subject]
	delete(k.leaves, subject)
	k.mu.Unlock()
	if leave != nil {
		leave()
	}
}

// leaveAll drops every subscription; called when the reader ends.
func (k *sock) leaveAll() {
	k.mu.Lock()
	leaves := k.leaves
	k.leaves = map[string]func(){}
	k.done = true
	k.queue = nil
	k.mu.Unlock()
	for _, l := range leaves {
		l()
	}
	k.cancel()
}

// serveFrame reads the next frame and hands it to handle on a short-lived goroutine (shallow):
// decoding and handling grow that goroutine's stack, never the reader's, so a socket waiting for
// its next frame holds the smallest stack Go gives. Text frames that are not a JSON object with a
// "t" are answered with an error frame instead; socketMalformedMax of them in a row close the
// socket, and so does a flood of frames. A panic in handle is logged and closes the socket. ok is
// false when the socket is done; handle returns false to end it too.
func (k *sock) serveFrame(ctx context.Context, handle func(inFrame) bool) (ok bool) {
	for {
		typ, data, err := k.c.Read(ctx)
		if err != nil {
			return false
		}
		if ok, _ := k.frames.take(time.Now(), socketFramePerSec, socketFrameBurst); !ok {
			k.s.metrics.socketRefused.WithLabelValues("flood").Inc()
			k.c.Close(closeFlood, "too many frames")
			return false
		}
		decoded := false
		perr := shallow(func() {
			var f inFrame
			if typ != websocket.MessageText {
				err = errs.E(errs.Malformed, "frames are JSON text")
			} else if err = json.Unmarshal(data, &f); err != nil || f.T == "" {
				err = errs.E(errs.Malformed, `a frame is a JSON object with a type in "t"`)
			}
			if err != nil {
				k.malformed++
				k.s.metrics.socketRefused.WithLabelValues("malformed").Inc()
				if k.malformed < socketMalformedMax {
					k.sendErr(err, "")
				}
				return
			}
			k.malformed = 0
			decoded = true
			ok = handle(f)
		})
		if perr != nil {
			k.s.log.Error("socket: panic handling a frame", "kind", k.kind, "err", perr)
			k.c.Close(websocket.StatusInternalError, "internal error")
			return false
		}
		if decoded {
			return ok
		}
		if k.malformed >= socketMalformedMax {
			k.c.Close(websocket.StatusPolicyViolation, "too many malformed frames")
			return false
		}
	}
}

// frameCommon acts on the frames both sockets handle alike (ping, unsub, typing, read) as me;
// it returns false for any other frame.
func (k *sock) frameCommon(f inFrame, me chat.Actor) bool {
	ctx, wsID := k.ctx, k.wsID
	switch f.T {
	case "ping":
		k.send(map[string]string{"t": "pong"})
	case "unsub":
		k.unsubscribe(f.Conv)
	case "typing":
		if ok, _ := k.typing.take(time.Now(), 2, 2); !ok {
			return true // typing past 2 a second is dropped, not refused
		}
		if err := k.s.chat.Typing(ctx, wsID, me, f.Conv, f.On); err != nil {
			k.sendErr(err, "")
		}
	case "read":
		if _, err := k.s.chat.MarkRead(ctx, wsID, me, f.Conv, f.Seq); err != nil {
			k.sendErr(err, "")
		}
	default:
		return false
	}
	return true
}

// admitSend spends a message's allowance of the connection and checks its client id, answering
// a refusal itself; it reports whether the message may be stored.
func (k *sock) admitSend(f inFrame) bool {
	if ok, wait := k.sends.take(time.Now(), socketSendPerSecond, socketSendBurst); !ok {
		k.sendErr(tooMany(wait), f.ID)
		return false
	}
	if f.ID == "" {
		k.sendErr(errs.Field(errs.Invalid, "id", "a message needs a client id (1–64 characters), so that a retry is stored once"), "")
		return false
	}
	return true
}

// subscribe follows a conversation from after: the messages after it are read from the database
// in the writer's order, then live ones follow without gap or repeat.
func (k *sock) subscribe(conv string, after int64) error {
	if after < 0 {
		return errs.Field(errs.Invalid, "after", "must be 0 or more")
	}
	if err := k.join("chat." + k.wsID + "." + conv); err != nil {
		return err
	}
	k.mu.Lock()
	k.watch[conv] = struct{}{}
	k.mu.Unlock()
	k.push(item{fn: func() []byte {
		f := k.follows[conv]
		if f == nil {
			f = &follow{last: after}
			k.follows[conv] = f
		} else if after < f.last {
			// A client asking again from further back gets the difference once more.
			f.last = after
		}
		k.catchUp(conv, f, -1)
		return nil
	}})
	return nil
}

func (k *sock) unsubscribe(conv string) {
	k.part("chat." + k.wsID + "." + conv)
	k.mu.Lock()
	delete(k.watch, conv)
	k.mu.Unlock()
	k.push(item{fn: func() []byte { delete(k.follows, conv); return nil }})
}

// deliverMsg sends a conversation's message numbered seq (m, when the event carried it; its frame,
// encoded once for every socket, in bus) unless the client has it; a gap before it is filled from
// the database first. Writer only.
func (k *sock) deliverMsg(bus *realtime.Msg, conv string, seq int64, m *chat.Message) {
	f := k.follows[conv]
	if f == nil || seq <= f.last {
		return
	}
	if seq == f.last+1 && m != nil {
		if b, err := bus.Memo("msg-frame", func() (any, error) { return json.Marshal(messageFrame(m)) }); err == nil {
			k.writeFrame(b.([]byte))
		}
		f.last = seq
		k.s.metrics.messagesDelivered.Inc()
		return
	}
	k.catchUp(conv, f, seq)
}

// catchUp sends the stored messages after f.last (up to seq, or all when seq < 0). Writer only.
func (k *sock) catchUp(conv string, f *follow, upTo int64) {
	for i := 0; i < 1000; i++ { // at most 500,000 messages; a conversation never holds that many
		if k.isDone() {
			return
		}
		msgs, err := k.s.chat.MessagesFor(k.ctx, k.wsID, conv, f.last, 500)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				k.s.log.Warn("socket: reading missed messages failed", "conversation_id", conv, "err", err)
				// The client resumes from what it has after reconnecting.
				k.finish(websocket.StatusTryAgainLater, "try again")
			}
			return
		}
		for _, m := range msgs {
			if m.Seq <= f.last {
				continue
			}
			k.emit(messageFrame(m))
			f.last = m.Seq
			k.s.metrics.messagesDelivered.Inc()
		}
		if len(msgs) < 500 || (upTo >= 0 && f.last >= upTo) {
			return
		}
	}
}

// checkFollows sends what the socket missed of its followed conversations, given their last
// seqs (read by the pinger for many sockets at once): the bus may drop a message (a NATS
// reconnect, a full queue) and, when it was a conversation's last one, no later message reveals
// the gap. Writer only, at every ping.
func (k *sock) checkFollows(last map[string]int64) {
	for id, f := range k.follows {
		if seq, ok := last[id]; ok && seq > f.last {
			k.catchUp(id, f, seq)
		}
	}
}

// chatEvent decodes a chat event, once for all the sockets that receive it.
func chatEvent(m *realtime.Msg) (*chat.Event, bool) {
	v, err := m.Memo("chat", func() (any, error) {
		var ev chat.Event
		err := json.Unmarshal(m.Data, &ev)
		return &ev, err
	})
	if err != nil {
		return nil, false
	}
	return v.(*chat.Event), true
}

// shallow runs f on a frame worker and waits for it. The reader's goroutine lives as long as
// the socket, mostly blocked in Read; work that runs deep (decoding, database calls) would grow
// its stack for good, and an idle socket would keep paying for it. Frame workers are few (as many
// as frames being handled at once) and live on between frames, so their stacks, grown once to
// what the database driver needs, are not grown again for every frame.
// A panic in f is recovered and returned as an error, so that one socket's bug ends that socket
// (its caller closes it), not the server.
func shallow(f func()) error {
	t := &frameTask{f: f, done: make(chan struct{})}
	select {
	case frameWork <- t: // an idle worker takes it
	default:
		go frameWorker(t)
	}
	<-t.done
	return t.err
}

// frameWork hands tasks to idle frame workers.
var frameWork = make(chan *frameTask)

// frameWorkerIdle is how long a frame worker waits for its next task before it ends.
const frameWorkerIdle = 30 * time.Second

type frameTask struct {
	f    func()
	err  error
	done chan struct{}
}

// frameWorker runs t, then further tasks until none comes for frameWorkerIdle.
func frameWorker(t *frameTask) {
	idle := time.NewTimer(frameWorkerIdle)
	defer idle.Stop()
	for {
		t.run()
		idle.Reset(frameWorkerIdle)
		select {
		case t = <-frameWork:
		case <-idle.C:
			return
		}
	}
}

func (t *frameTask) run() {
	defer close(t.done)
	defer func() {
		if p := recover(); p != nil {
			t.err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	t.f()
}

// tooMany is the error a send over the limit gets.
func tooMany(wait time.Duration) error {
	e := errs.E(errs.TooMany, "too many messages; slow down")
	e.RetryAfter = int(wait/time.Second) + 1
	return e
}

// Concurrent sockets allowed per client address (an IPv6 /64 counts as one address) and per
// visitor; more are refused before the upgrade (429).
const (
	SocketsPerAddress = 50
	SocketsPerVisitor = 8
)

// pinger holds the server's sockets: it pings them in turn and closes one that does not answer,
// counts them per client address and per visitor, and closes them all at shutdown.
type pinger struct {
	mu       sync.Mutex
	socks    map[*sock]struct{}
	perIP    map[string]int
	perVisit map[string]int
	closing  bool
	seq      uint64
	handlers sync.WaitGroup
	checking atomic.Bool  // a tick's look-up of followed conversations is under way
	warned   atomic.Int64 // unix seconds of the last warning about that look-up failing
}

// reserve counts a socket about to be accepted from address ip, refusing it (errs.TooMany) over
// the cap and (errs.Unavailable) while the server shuts down. A successful reserve must be
// matched by remove.
func (p *pinger) reserve(ip string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return errs.E(errs.Unavailable, "the server is shutting down; connect again")
	}
	if p.perIP[ip] >= SocketsPerAddress {
		e := errs.E(errs.TooMany, "too many connections from this address")
		e.RetryAfter = 30
		return e
	}
	p.perIP[ip]++
	p.handlers.Add(1)
	return nil
}

func (p *pinger) add(k *sock) {
	p.mu.Lock()
	if p.closing {
		k.finish(websocket.StatusGoingAway, "server shutting down") // reserved before shutdown began, accepted after
	}
	p.seq++
	k.n = p.seq
	p.socks[k] = struct{}{}
	p.mu.Unlock()
}

// addVisitor counts a visitor's socket; false when the visitor has SocketsPerVisitor already.
func (p *pinger) addVisitor(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perVisit[id] >= SocketsPerVisitor {
		return false
	}
	p.perVisit[id]++
	return true
}

func (p *pinger) removeVisitor(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perVisit[id]--; p.perVisit[id] <= 0 {
		delete(p.perVisit, id)
	}
}

// remove forgets a socket (nil: one reserved but never accepted) counted under ip.
func (p *pinger) remove(k *sock, ip string) {
	p.mu.Lock()
	delete(p.socks, k)
	if p.perIP[ip]--; p.perIP[ip] <= 0 {
		delete(p.perIP, ip)
	}
	p.mu.Unlock()
	p.handlers.Done()
}

// pingSlices is how many parts the sockets are pinged in, one part a slice of socketPingEvery
// (every 100 ms): 10,000 sockets pinged (and their follows checked) at once would stall every
// socket's delivery for a second, and even a 25th of them at once (400 pings, writer goroutines
// and pongs) held up the messages of that moment by 20–40 ms; a 250th is 40 sockets a tick.
const pingSlices = 250

// run pings every socket once each socketPingEvery, a pingSlices-th of them at a time, until ctx
// ends. Pings go out in the sockets' own writers, so a ping never overtakes a queued frame and
// never races with a write.
func (p *pinger) run(ctx context.Context) {
	t := time.NewTicker(socketPingEvery / pingSlices)
	defer t.Stop()
	for slice := 0; ; slice = (slice + 1) % pingSlices {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.tick(slice, pingSlices, false)
	}
}

// tickAll ticks every socket at once (tests).
func (p *pinger) tickAll() { p.tick(0, 1, true) }

// tick pings the sockets of slice (of slices, by their sequence number) and runs their tick (the
// rep socket's session check), each in the socket's writer; then it checks what their followed
// conversations may have missed, reading the last seqs of all of them in one query per
// workspace. That read runs after the pings are queued and, unless wait, on a goroutine of its
// own, one at a time (a tick whose read would overlap the last one skips it): a slow database
// never holds up pings and session checks.
func (p *pinger) tick(slice, slices int, wait bool) {
	p.mu.Lock()
	all := make([]*sock, 0, len(p.socks)/slices+1)
	for k := range p.socks {
		if int(k.n%uint64(slices)) == slice {
			all = append(all, k)
		}
	}
	p.mu.Unlock()
	for _, k := range all {
		k.push(item{fn: func() []byte {
			go func() {
				pctx, cancel := context.WithTimeout(k.ctx, 10*time.Second)
				defer cancel()
				if err := k.c.Ping(pctx); err != nil && k.ctx.Err() == nil {
					k.finish(websocket.StatusGoingAway, "no pong")
				}
			}()
			k.mu.Lock()
			tick := k.tick
			k.mu.Unlock()
			if tick != nil {
				tick()
			}
			return nil
		}})
	}
	if !p.checking.CompareAndSwap(false, true) {
		return // the last tick's read is still running
	}
	check := func() {
		defer p.checking.Store(false)
		last := p.lastSeqs(all)
		for _, k := range all {
			if l := last[k.wsID]; len(l) > 0 {
				k.push(item{fn: func() []byte { k.checkFollows(l); return nil }})
			}
		}
	}
	if wait {
		check()
	} else {
		go check()
	}
}

// lastSeqs reads the last seq of every conversation the sockets follow, by workspace. A failed
// read leaves its workspace out: the next ping tries again.
func (p *pinger) lastSeqs(socks []*sock) map[string]map[string]int64 {
	byWS := map[string]map[string]struct{}{}
	var s *Server
	for _, k := range socks {
		k.mu.Lock()
		if len(k.watch) > 0 {
			ids := byWS[k.wsID]
			if ids == nil {
				ids = map[string]struct{}{}
				byWS[k.wsID] = ids
			}
			for id := range k.watch {
				ids[id] = struct{}{}
			}
			s = k.s
		}
		k.mu.Unlock()
	}
	out := make(map[string]map[string]int64, len(byWS))
	if s == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ws, set := range byWS {
		ids := make([]string, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		last, err := s.chat.LastSeqs(ctx, ws, ids)
		if err != nil {
			if now := time.Now().Unix(); p.warned.Load() < now-60 { // once a minute at most
				p.warned.Store(now)
				s.log.Warn("socket: reading the last messages of followed conversations failed", "err", err, "workspace_id", ws)
			}
			continue
		}
		out[ws] = last
	}
	return out
}
