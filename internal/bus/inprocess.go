package bus

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// inProcess is the Bus of a single replica: subscriptions live in an index in memory and Publish
// hands each matching one a copy of the message.
type inProcess struct {
	log   *slog.Logger
	limit int
	drops atomic.Int64 // messages dropped because a queue was full, ever

	mu     sync.RWMutex
	idx    index
	subs   map[*subscriber]struct{}
	closed bool
}

// NewInProcess returns a Bus that delivers within this process, for a single replica. It logs
// dropped messages (see QueueLen) to slog.Default().
func NewInProcess() Bus {
	return newInProcess(slog.Default(), QueueLen)
}

func newInProcess(log *slog.Logger, limit int) *inProcess {
	return &inProcess{log: log, limit: limit, subs: make(map[*subscriber]struct{})}
}

// Publish implements Bus. It copies data once for each matching subscription; with none it costs
// a lookup and no allocation.
func (b *inProcess) Publish(ctx context.Context, subject string, data []byte) error {
	if err := checkCtx(ctx, "Publish"); err != nil {
		return err
	}
	if err := ValidSubject(subject, false); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return errClosed("Publish")
	}
	b.idx.each(subject, func(s *subscriber) {
		s.deliver(Msg{Subject: subject, Data: clone(data)})
	})
	return nil
}

// clone copies data, keeping nil as nil.
func clone(data []byte) []byte {
	if data == nil {
		return nil
	}
	return append(make([]byte, 0, len(data)), data...)
}

// Subscribe implements Bus.
func (b *inProcess) Subscribe(subject string, h Handler) (Subscription, error) {
	if err := ValidSubject(subject, true); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed("Subscribe")
	}
	s := newSubscriber(subject, h, b.log, b.limit, &b.drops)
	s.detach = func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.idx.remove(s)
		delete(b.subs, s)
		return nil
	}
	b.idx.add(s)
	b.subs[s] = struct{}{}
	return s, nil
}

// Ping implements Bus: an open in-process bus can always deliver.
func (b *inProcess) Ping(ctx context.Context) error {
	if err := checkCtx(ctx, "Ping"); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return errClosed("Ping")
	}
	return nil
}

// Close implements Bus.
func (b *inProcess) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.idx = index{}
	b.mu.Unlock()
	for s := range subs {
		s.close()
	}
	return nil
}
