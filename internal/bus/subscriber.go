package bus

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// subscriber is the delivery half shared by both implementations: a bounded queue of messages for
// one subscription and the goroutine that calls its handler with them, one at a time.
type subscriber struct {
	subject string
	h       Handler
	log     *slog.Logger
	limit   int           // most queued messages; more are dropped
	drops   *atomic.Int64 // the bus's total of dropped messages
	gid     uint64        // the delivering goroutine; written before the goroutine starts delivering
	// detach removes the subscription from its bus (index entry, NATS interest); it runs once,
	// after the subscriber is closed.
	detach func() error

	mu      sync.Mutex
	ready   sync.Cond // signalled when queue gains a message or closed is set
	idle    sync.Cond // broadcast when a handler call returns after closed is set
	queue   []Msg     // waiting for the handler, oldest first
	spare   []Msg     // the previous batch's backing array, reused by the next
	closed  bool
	running bool  // a handler call is in progress
	burst   int64 // messages dropped since the handler last caught up
	started chan struct{}
}

// shrinkCap is the largest queue array kept for reuse after a burst; a larger one is released.
const shrinkCap = 256

// newSubscriber returns a subscriber and starts its delivering goroutine.
func newSubscriber(subject string, h Handler, log *slog.Logger, limit int, drops *atomic.Int64) *subscriber {
	s := &subscriber{subject: subject, h: h, log: log, limit: limit, drops: drops, started: make(chan struct{})}
	s.ready.L = &s.mu
	s.idle.L = &s.mu
	go s.run()
	<-s.started
	return s
}

// deliver queues m for the handler without blocking. When the queue is full it drops m, counts it
// and logs a warning on the first drop of a burst.
func (s *subscriber) deliver(m Msg) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= s.limit {
		s.burst++
		first := s.burst == 1
		s.mu.Unlock()
		s.drops.Add(1)
		if first {
			s.log.Warn("bus: subscriber is too slow; dropping its messages until it catches up",
				"subject", s.subject, "queue", s.limit)
		}
		return
	}
	s.queue = append(s.queue, m)
	if len(s.queue) == 1 {
		s.ready.Signal()
	}
	s.mu.Unlock()
}

// run delivers queued messages until the subscriber is closed, taking the whole queue at a time so
// that publishers and the handler rarely contend for the lock.
func (s *subscriber) run() {
	s.gid = goid()
	close(s.started)
	s.mu.Lock()
	for {
		for len(s.queue) == 0 && !s.closed {
			s.ready.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		batch := s.queue
		s.queue = s.spare[:0]
		if s.burst > 0 {
			s.log.Info("bus: slow subscriber caught up", "subject", s.subject, "dropped", s.burst)
			s.burst = 0
		}
		for i := range batch {
			if s.closed {
				break
			}
			s.running = true
			s.mu.Unlock()
			s.call(batch[i])
			s.mu.Lock()
			s.running = false
			if s.closed {
				s.idle.Broadcast()
			}
		}
		clear(batch)
		if cap(batch) <= shrinkCap {
			s.spare = batch[:0]
		} else {
			s.spare = nil
		}
	}
}

// call runs the handler on m; a panic is logged and the subscription goes on, so that one bad
// message cannot take the server down.
func (s *subscriber) call(m Msg) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("bus: subscriber panicked", "subject", m.Subject, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	s.h(m)
}

// close stops delivery and detaches the subscription. Once it returns the handler is not called
// again: it waits for a running call to return unless it is called from that call. Only the first
// call detaches; later ones return nil.
func (s *subscriber) close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.queue, s.spare = nil, nil
	s.ready.Signal()
	if s.running && goid() != s.gid {
		for s.running {
			s.idle.Wait()
		}
	}
	s.mu.Unlock()
	if already || s.detach == nil {
		return nil
	}
	return s.detach()
}

// Unsubscribe implements Subscription.
func (s *subscriber) Unsubscribe() error { return s.close() }
