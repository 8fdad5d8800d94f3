// Package bus publishes messages by subject and delivers them to subscribers, within one process
// (NewInProcess, the default) or between replicas through a NATS server (NewNATS, when
// BECKON_NATS_URL is set). Both implementations behave the same:
//
//   - Subjects are tokens separated by '.', e.g. "ws.42.chat.c_7". A subscription's subject may use
//     NATS wildcards: "*" matches exactly one token and ">", as the last token, one or more tokens.
//     Publishing to a subject with a wildcard is an error of kind errs.Invalid. See ValidSubject.
//   - Each subscription delivers on its own goroutine, one call of its handler at a time, in the
//     order the messages were published by each publisher (a goroutine in process, a connection
//     with NATS). There is no order between different publishers or different subscriptions.
//   - A slow handler never blocks Publish or other subscriptions: each subscription has its own
//     queue of at most QueueLen messages. When the queue is full, new messages for that
//     subscription are dropped and counted, and one warning is logged per burst of drops. The bus is
//     for fast, best-effort fan-out (chat delivery, presence, alerts, wake-ups); anything that must
//     not be lost is written to the database first and the bus only says "look again".
//   - Every handler gets its own copy of Data and may keep or modify it; the publisher may reuse its
//     buffer as soon as Publish returns.
//   - After Unsubscribe (or Close) returns, the handler is not called again.
//
// Subjects are plain strings shared by every replica, so packages name theirs with a prefix they
// own (e.g. "chat.", "presence.").
package bus

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
)

// QueueLen is the most messages a subscription holds waiting for its handler. A message that
// arrives for a subscription whose queue is full is dropped (the newest is dropped, so what is
// delivered keeps its order), rather than blocking the publisher or growing without bound.
const QueueLen = 8192

// Msg is a message delivered to a handler: the subject it was published to (never a wildcard) and
// its data, which belongs to the handler.
type Msg struct {
	Subject string
	Data    []byte
}

// Handler receives messages of a subscription. Calls of one subscription's handler never overlap,
// so a handler needs no lock for state of its own; it should return quickly, handing long work to
// another goroutine, because its subscription's queue fills while it runs.
type Handler func(Msg)

// Subscription is an interest in a subject, returned by Bus.Subscribe.
type Subscription interface {
	// Unsubscribe stops delivery: once it returns, the handler is not called again. It waits for a
	// call of the handler that is running to return, unless called from within that handler (which
	// is allowed). Calling it again, or after the bus is closed, does nothing and returns nil.
	Unsubscribe() error
}

// Bus publishes and subscribes by subject. All its methods are safe for concurrent use.
type Bus interface {
	// Publish sends data to every subscription whose subject matches subject. It does not wait for
	// delivery. It returns an error of kind errs.Invalid when subject is not a valid publish
	// subject (see ValidSubject), errs.TooLarge when data exceeds the NATS server's payload limit,
	// errs.Unavailable when the bus is closed or its connection is down, and ctx's error when ctx
	// is already done.
	Publish(ctx context.Context, subject string, data []byte) error
	// Subscribe calls h with every message published to a subject matching subject, which may
	// contain wildcards, until the returned Subscription is unsubscribed or the bus is closed. It
	// returns an error of kind errs.Invalid for a bad subject and errs.Unavailable when the bus is
	// closed.
	Subscribe(subject string, h Handler) (Subscription, error)
	// Ping returns nil when the bus can deliver messages, for readiness checks, and otherwise an
	// error of kind errs.Unavailable.
	Ping(ctx context.Context) error
	// Close unsubscribes every subscription, waiting for running handlers to return (except one
	// that calls Close itself), and releases the connection. Afterwards Publish, Subscribe and
	// Ping return errs.Unavailable. Calling it again returns nil.
	Close() error
}

// errClosed is the error of every operation on a closed bus.
func errClosed(op string) error {
	return errs.E(errs.Unavailable, "bus.%s: the message bus is closed", op)
}

// checkCtx returns ctx's error, wrapped with the operation's name, when ctx is done.
func checkCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bus.%s: %w", op, err)
	}
	return nil
}

// goid returns the id of the calling goroutine, read from the first line of its stack trace
// ("goroutine 42 [running]:"). Go does not expose the id otherwise; it is used only to let a handler
// unsubscribe itself without waiting for its own return, so it runs on Unsubscribe, never per
// message.
func goid() uint64 {
	var buf [64]byte
	s := string(buf[:runtime.Stack(buf[:], false)])
	s = strings.TrimPrefix(s, "goroutine ")
	s, _, _ = strings.Cut(s, " ")
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}
