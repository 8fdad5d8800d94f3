// Package realtime shares the bus among the sockets of one replica. A replica may hold tens of
// thousands of sockets (visitors, reps); many follow the same subjects (every rep of a workspace
// follows its inbox; a hundred people may follow one conversation), and most follow a subject of
// their own (a visitor's conversation, the visitor's own subject). A bus subscription costs a
// goroutine and a queue, so the Hub keeps one per *route*, not per socket or subject: subjects of
// one entity in a workspace ("chat.<ws>.<conversation>", "visitor.<ws>.<visitor>") share their
// workspace's wildcard subscription ("chat.<ws>.*") and are dispatched by exact subject in
// memory. Delivery never blocks: a Sink queues what it is given or drops its connection.
package realtime

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/beckonhq/beckon/internal/bus"
)

// Sink receives the messages of the subjects it joined. Deliver must return at once (queue the
// message, or mark the connection as too slow); it is called from the bus's delivery goroutine
// of the route, in the order the bus delivers. The message is shared between sinks: read it,
// never modify it.
type Sink interface {
	Deliver(m *Msg)
}

// Msg is a bus message on its way to this replica's sinks. What sinks derive from it alike (the
// decoded event, a frame every socket sends the same) is worked out once, by the first sink that
// asks, through Memo.
type Msg struct {
	Subject string
	Data    []byte

	mu   sync.Mutex
	memo map[string]*memoized
}

type memoized struct {
	once sync.Once
	v    any
	err  error
}

// NewMsg returns a message (for tests and callers outside the hub).
func NewMsg(subject string, data []byte) *Msg { return &Msg{Subject: subject, Data: data} }

// Memo returns what f returns, calling it only for the first caller of key on this message; the
// value is shared by every caller and must not be modified. f may itself call Memo with another
// key.
func (m *Msg) Memo(key string, f func() (any, error)) (any, error) {
	m.mu.Lock()
	e := m.memo[key]
	if e == nil {
		if m.memo == nil {
			m.memo = make(map[string]*memoized, 2)
		}
		e = &memoized{}
		m.memo[key] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.v, e.err = f() })
	return e.v, e.err
}

// Hub multiplexes bus subscriptions among local sinks. It is safe for concurrent use.
type Hub struct {
	bus bus.Bus
	log *slog.Logger

	mu     sync.Mutex
	routes map[string]*route
}

// route is one bus subscription and the sinks of the subjects it carries.
type route struct {
	sub bus.Subscription
	// sinks by exact subject. A subject's slice is never changed in place (joins and leaves
	// replace it), so the delivery path holds the read lock only to fetch it.
	mu    sync.RWMutex
	sinks map[string][]Sink
	n     int // sinks joined, all subjects together (under Hub.mu)
}

// Prefixes whose subjects name one entity of a workspace in their third token: they are routed
// through the workspace's wildcard subscription.
var perEntity = []string{"chat.", "visitor."}

// routeOf returns the bus subscription that carries subject.
func routeOf(subject string) string {
	for _, p := range perEntity {
		if !strings.HasPrefix(subject, p) {
			continue
		}
		parts := strings.Split(subject, ".")
		if len(parts) == 3 && literal(parts[1]) && literal(parts[2]) {
			return parts[0] + "." + parts[1] + ".*"
		}
	}
	return subject
}

func literal(tok string) bool { return tok != "*" && tok != ">" }

// New returns a Hub over b.
func New(b bus.Bus, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	return &Hub{bus: b, log: log, routes: map[string]*route{}}
}

// Join makes s receive every message published to subject until the returned leave is called;
// leave is idempotent. A subject with wildcards gets the messages its pattern matches (within its
// route). The first sink of a route subscribes the bus; the last one to leave unsubscribes it. It
// returns the bus's error (errs.Invalid for a bad subject, errs.Unavailable when the bus is
// closed).
func (h *Hub) Join(subject string, s Sink) (leave func(), err error) {
	if err := bus.ValidSubject(subject, true); err != nil {
		return nil, err
	}
	key := routeOf(subject)
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.routes[key]
	if r == nil {
		r = &route{sinks: map[string][]Sink{}}
		sub, err := h.bus.Subscribe(key, func(m bus.Msg) { h.dispatch(key, r, m) })
		if err != nil {
			return nil, err
		}
		r.sub = sub
		h.routes[key] = r
	}
	r.mu.Lock()
	old := r.sinks[subject]
	list := make([]Sink, len(old), len(old)+1)
	copy(list, old)
	r.sinks[subject] = append(list, s)
	r.mu.Unlock()
	r.n++
	var once sync.Once
	return func() { once.Do(func() { h.leave(key, subject, r, s) }) }, nil
}

// dispatch hands m to the sinks of its exact subject and to those that joined the route's
// pattern itself.
func (h *Hub) dispatch(key string, r *route, m bus.Msg) {
	r.mu.RLock()
	exact, pattern := r.sinks[m.Subject], []Sink(nil)
	if key != m.Subject {
		pattern = r.sinks[key]
	}
	r.mu.RUnlock()
	msg := &Msg{Subject: m.Subject, Data: m.Data}
	for _, s := range exact {
		s.Deliver(msg)
	}
	for _, s := range pattern {
		s.Deliver(msg)
	}
}

func (h *Hub) leave(key, subject string, r *route, s Sink) {
	h.mu.Lock()
	r.mu.Lock()
	old := r.sinks[subject]
	list := make([]Sink, 0, len(old))
	removed := false
	for _, x := range old {
		if x == s && !removed {
			removed = true
			continue
		}
		list = append(list, x)
	}
	if len(list) == 0 {
		delete(r.sinks, subject)
	} else {
		r.sinks[subject] = list
	}
	r.mu.Unlock()
	if removed {
		r.n--
	}
	var sub bus.Subscription
	if r.n == 0 && h.routes[key] == r {
		delete(h.routes, key)
		sub = r.sub
	}
	h.mu.Unlock()
	if sub != nil {
		// Outside the lock: Unsubscribe waits for a running delivery, which may be queueing
		// into a sink whose owner is joining another subject.
		if err := sub.Unsubscribe(); err != nil {
			h.log.Warn("realtime: unsubscribing failed", "subject", key, "err", err)
		}
	}
}

// Publish publishes data on subject through the hub's bus (errors as bus.Bus.Publish).
func (h *Hub) Publish(ctx context.Context, subject string, data []byte) error {
	return h.bus.Publish(ctx, subject, data)
}

// Subjects returns how many bus subscriptions the hub holds.
func (h *Hub) Subjects() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.routes)
}
