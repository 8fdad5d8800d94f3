package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/beckonhq/beckon/internal/errs"
)

// natsBus is the Bus of several replicas sharing a NATS server. Each subscription is a NATS
// subscription whose callback only queues the message for a subscriber, so delivery, ordering,
// dropping and Unsubscribe behave exactly as in process.
type natsBus struct {
	nc    *nats.Conn
	log   *slog.Logger
	limit int
	drops atomic.Int64

	closed atomic.Bool
	mu     sync.Mutex // guards subs and orders Subscribe against Close
	subs   map[*subscriber]struct{}
}

// pingTimeout bounds Ping when its context has no deadline, and Subscribe's wait for the server
// to register the interest.
const pingTimeout = 5 * time.Second

// NewNATS connects to the NATS server (or comma-separated servers) at url as client "beckon" and
// returns a Bus that delivers between every replica connected to it. Once connected it reconnects
// forever when the connection drops, logging each disconnect and reconnect to log (nil logs
// nothing); while disconnected, Publish and Ping return errs.Unavailable. The first connection
// must succeed: NewNATS returns an error of kind errs.Invalid for an empty url and
// errs.Unavailable when the server cannot be reached.
func NewNATS(url string, log *slog.Logger) (Bus, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if strings.TrimSpace(url) == "" {
		return nil, errs.Field(errs.Invalid, "nats_url", "is required")
	}
	b := &natsBus{log: log, limit: QueueLen, subs: make(map[*subscriber]struct{})}
	nc, err := nats.Connect(url,
		nats.Name("beckon"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("bus: disconnected from NATS; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("bus: reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Error("bus: NATS error", "subject", sub.Subject, "err", err)
				return
			}
			log.Error("bus: NATS error", "err", err)
		}),
	)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "bus: cannot connect to NATS at %s", redact(url))
	}
	b.nc = nc
	log.Info("bus: connected to NATS", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerVersion())
	return b, nil
}

// redact hides passwords and tokens in a NATS URL list for messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if !strings.Contains(p, "@") {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(unparsable URL)"
			continue
		}
		if u.User != nil {
			if _, ok := u.User.Password(); !ok {
				u.User = url.User("xxxxx") // a bare token
			}
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}

// Publish implements Bus.
func (b *natsBus) Publish(ctx context.Context, subject string, data []byte) error {
	if err := checkCtx(ctx, "Publish"); err != nil {
		return err
	}
	if err := ValidSubject(subject, false); err != nil {
		return err
	}
	if b.closed.Load() {
		return errClosed("Publish")
	}
	if !b.nc.IsConnected() {
		return errs.E(errs.Unavailable, "bus.Publish: not connected to NATS")
	}
	if err := b.nc.Publish(subject, data); err != nil {
		return natsErr("Publish", err)
	}
	return nil
}

// natsErr gives an error of nats.go its kind.
func natsErr(op string, err error) error {
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return errs.Wrap(errs.TooLarge, err, "bus.%s: message larger than the NATS server accepts", op)
	case errors.Is(err, nats.ErrBadSubject):
		return errs.Wrap(errs.Invalid, err, "bus.%s: NATS refused the subject", op)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return errs.Wrap(errs.Unavailable, err, "bus.%s: NATS is unavailable", op)
	}
	return fmt.Errorf("bus.%s: %w", op, err)
}

// Subscribe implements Bus. When connected, it returns once the server has registered the
// interest, so that a message published afterwards from any replica reaches h; while
// disconnected, the interest is registered on reconnection.
func (b *natsBus) Subscribe(subject string, h Handler) (Subscription, error) {
	if err := ValidSubject(subject, true); err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil, errClosed("Subscribe")
	}
	s := newSubscriber(subject, h, b.log, b.limit, &b.drops)
	ns, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		// nats.go gives every message of every subscription its own copy of the data.
		s.deliver(Msg{Subject: m.Subject, Data: m.Data})
	})
	if err != nil {
		b.mu.Unlock()
		s.close()
		return nil, natsErr("Subscribe", err)
	}
	// Our callback never blocks, so NATS's own pending limits are never approached; the
	// subscriber's queue is the bound.
	s.detach = func() error {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		err := ns.Unsubscribe()
		if err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			return natsErr("Unsubscribe", err)
		}
		return nil
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(pingTimeout); err != nil {
			// The interest stays registered with the client and is sent again on reconnection.
			b.log.Warn("bus: NATS did not confirm a subscription", "subject", subject, "err", err)
		}
	}
	return s, nil
}

// Ping implements Bus with a round trip to the NATS server, bounded by ctx or, when ctx has no
// deadline, by five seconds.
func (b *natsBus) Ping(ctx context.Context) error {
	if err := checkCtx(ctx, "Ping"); err != nil {
		return err
	}
	if b.closed.Load() {
		return errClosed("Ping")
	}
	if !b.nc.IsConnected() {
		return errs.E(errs.Unavailable, "bus.Ping: not connected to NATS")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pingTimeout)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return errs.Wrap(errs.Unavailable, err, "bus.Ping: NATS did not answer")
	}
	return nil
}

// Close implements Bus.
func (b *natsBus) Close() error {
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil
	}
	b.closed.Store(true)
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	b.nc.Close()
	for s := range subs {
		s.close()
	}
	return nil
}
