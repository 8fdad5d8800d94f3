// Package realtime shares the bus among the sockets of one replica. A replica may hold tens of
// thousands of sockets (visitors, reps); many follow the same subjects (every rep of a workspace
// follows its inbox; a hundred people may follow one conversation). The Hub keeps one bus
// subscription per subject, however many local sockets follow it, and hands every message to each
// of them. Delivery never blocks: a Sink queues what it is given or drops its connection.
package realtime

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/beckonhq/beckon/internal/bus"
)

// Sink receives the messages of the subjects it joined. Deliver must return at once (queue the
// message, or mark the connection as too slow); it is called from the bus's delivery goroutine
// of the subject, in the order the bus delivers, and data is shared between sinks: read it, never
// modify it.
type Sink interface {
	Deliver(subject string, data []byte)
}

// Hub multiplexes bus subscriptions among local sinks. It is safe for concurrent use.
type Hub struct {
	bus bus.Bus
	log *slog.Logger

	mu     sync.Mutex
	topics map[string]*topic

	delivered atomic.Int64
}

type topic struct {
	sub   bus.Subscription
	sinks atomic.Pointer[[]Sink] // copy-on-write: the delivery path reads without locking
}

// New returns a Hub over b.
func New(b bus.Bus, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	return &Hub{bus: b, log: log, topics: map[string]*topic{}}
}

// Join makes s receive every message published to subject (which may hold wildcards) until the
// returned leave is called; leave is idempotent. The first sink of a subject subscribes the bus;
// the last one to leave unsubscribes it. It returns the bus's error (errs.Invalid for a bad
// subject, errs.Unavailable when the bus is closed).
func (h *Hub) Join(subject string, s Sink) (leave func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[subject]
	if t == nil {
		t = &topic{}
		empty := []Sink{}
		t.sinks.Store(&empty)
		sub, err := h.bus.Subscribe(subject, func(m bus.Msg) {
			sinks := *t.sinks.Load()
			for _, s := range sinks {
				s.Deliver(m.Subject, m.Data)
			}
			h.delivered.Add(int64(len(sinks)))
		})
		if err != nil {
			return nil, err
		}
		t.sub = sub
		h.topics[subject] = t
	}
	old := *t.sinks.Load()
	next := make([]Sink, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	t.sinks.Store(&next)
	var once sync.Once
	return func() { once.Do(func() { h.leave(subject, t, s) }) }, nil
}

func (h *Hub) leave(subject string, t *topic, s Sink) {
	h.mu.Lock()
	old := *t.sinks.Load()
	next := make([]Sink, 0, len(old))
	removed := false
	for _, x := range old {
		if x == s && !removed {
			removed = true
			continue
		}
		next = append(next, x)
	}
	t.sinks.Store(&next)
	var sub bus.Subscription
	if len(next) == 0 && h.topics[subject] == t {
		delete(h.topics, subject)
		sub = t.sub
	}
	h.mu.Unlock()
	if sub != nil {
		// Outside the lock: Unsubscribe waits for a running delivery, which may be queueing
		// into a sink whose owner is joining another subject.
		if err := sub.Unsubscribe(); err != nil {
			h.log.Warn("realtime: unsubscribing failed", "subject", subject, "err", err)
		}
	}
}

// Publish publishes data on subject through the hub's bus (errors as bus.Bus.Publish).
func (h *Hub) Publish(ctx context.Context, subject string, data []byte) error {
	return h.bus.Publish(ctx, subject, data)
}

// Subjects returns how many subjects the hub holds a bus subscription for.
func (h *Hub) Subjects() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.topics)
}

// Delivered returns how many messages the hub has handed to sinks since it started.
func (h *Hub) Delivered() int64 { return h.delivered.Load() }
