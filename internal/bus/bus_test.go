package bus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
)

// wait bounds every wait for a delivery; a correct bus delivers in microseconds.
const wait = 10 * time.Second

func TestInProcess(t *testing.T) {
	testBus(t, func(t *testing.T) Bus {
		b := NewInProcess()
		t.Cleanup(func() { b.Close() })
		return b
	})
}

// testBus is the conformance suite every Bus implementation passes. newBus returns a fresh, open
// bus, closed at the end of the test. Each subtest puts its subjects under a prefix of its own, so
// that runs sharing a NATS server do not see each other's messages.
func testBus(t *testing.T, newBus func(t *testing.T) Bus) {
	t.Run("match", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		// One subscription per case, each under a prefix of its own. After the case's subject, a
		// "fence" message that the pattern surely matches is published; when it arrives, the
		// case's message has arrived too if it ever will (order is kept per subscription).
		chans := make([]chan Msg, len(matchCases))
		for i, c := range matchCases {
			chans[i] = make(chan Msg, 4)
			subscribe(t, b, fmt.Sprintf("%s.c%d.%s", p, i, c.pattern), collect(chans[i]))
		}
		for i, c := range matchCases {
			publish(t, b, fmt.Sprintf("%s.c%d.%s", p, i, c.subject), "case")
			publish(t, b, fmt.Sprintf("%s.c%d.%s", p, i, fence(c.pattern)), "fence")
		}
		for i, c := range matchCases {
			got := false
			for m := recv(t, chans[i]); string(m.Data) != "fence"; m = recv(t, chans[i]) {
				if want := fmt.Sprintf("%s.c%d.%s", p, i, c.subject); m.Subject != want {
					t.Errorf("pattern %q: got subject %q, want %q", c.pattern, m.Subject, want)
				}
				got = true
			}
			if got != c.want {
				t.Errorf("pattern %q, subject %q: delivered = %v, want %v", c.pattern, c.subject, got, c.want)
			}
		}
	})

	t.Run("invalid subjects", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		ctx := context.Background()
		for _, c := range validCases {
			if len(c.s) > 100 { // the limit on length is TestValidSubject's business
				continue
			}
			// A prefix of literal tokens keeps the subject's validity and other runs' subjects apart.
			s := p + "." + c.s
			err := b.Publish(ctx, s, []byte("x"))
			if c.pub && err != nil {
				t.Errorf("Publish(%q) = %v, want nil", s, err)
			}
			if !c.pub && !errs.Is(err, errs.Invalid) {
				t.Errorf("Publish(%q) = %v, want an Invalid error", s, err)
			}
			sub, err := b.Subscribe(s, func(Msg) {})
			if c.sub && err != nil {
				t.Errorf("Subscribe(%q) = %v, want nil", s, err)
			}
			if !c.sub && !errs.Is(err, errs.Invalid) {
				t.Errorf("Subscribe(%q) = %v, want an Invalid error", s, err)
			}
			if sub != nil {
				if err := sub.Unsubscribe(); err != nil {
					t.Errorf("Unsubscribe(%q) = %v", s, err)
				}
			}
		}
	})

	t.Run("order", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		const n = 1000
		exact, wild := make(chan Msg, n), make(chan Msg, n)
		subscribe(t, b, p+".chat.c1", collect(exact))
		subscribe(t, b, p+".chat.*", collect(wild))
		for i := range n {
			publish(t, b, p+".chat.c1", strconv.Itoa(i))
		}
		for name, ch := range map[string]chan Msg{"exact": exact, "wildcard": wild} {
			for i := range n {
				if m := recv(t, ch); string(m.Data) != strconv.Itoa(i) {
					t.Fatalf("%s subscription: message %d has data %q", name, i, m.Data)
				}
			}
		}
	})

	t.Run("concurrent publishers", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		const publishers, each = 8, 250
		ch := make(chan Msg, publishers*each)
		subscribe(t, b, p+".>", collect(ch))
		var wg sync.WaitGroup
		for g := range publishers {
			wg.Go(func() {
				for i := range each {
					if err := b.Publish(context.Background(), fmt.Sprintf("%s.p%d", p, g), []byte(strconv.Itoa(i))); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		next := make(map[string]int)
		for range publishers * each {
			m := recv(t, ch)
			if want := strconv.Itoa(next[m.Subject]); string(m.Data) != want {
				t.Fatalf("%s: got message %q, want %q: out of order", m.Subject, m.Data, want)
			}
			next[m.Subject]++
		}
	})

	t.Run("fan-out", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		const n = 100
		patterns := []string{p + ".alert.u1", p + ".alert.u1", p + ".alert.*", p + ".>", p + ".*.u1"}
		chans := make([]chan Msg, len(patterns))
		for i, pat := range patterns {
			chans[i] = make(chan Msg, n+1)
			subscribe(t, b, pat, collect(chans[i]))
		}
		other := make(chan Msg, n+1)
		subscribe(t, b, p+".alert.u2", collect(other))
		for i := range n {
			publish(t, b, p+".alert.u1", strconv.Itoa(i))
		}
		publish(t, b, p+".alert.u2", "fence")
		for j, ch := range chans {
			for i := range n {
				if m := recv(t, ch); string(m.Data) != strconv.Itoa(i) || m.Subject != p+".alert.u1" {
					t.Fatalf("subscriber %q: message %d is %q on %q", patterns[j], i, m.Data, m.Subject)
				}
			}
		}
		if m := recv(t, other); string(m.Data) != "fence" {
			t.Errorf("subscriber of another subject got %q", m.Data)
		}
	})

	t.Run("data is copied", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		a, c := make(chan Msg, 1), make(chan Msg, 1)
		subscribe(t, b, p+".x", func(m Msg) {
			for i := range m.Data {
				m.Data[i] = 'X' // a handler owns its data
			}
			a <- m
		})
		subscribe(t, b, p+".x", collect(c))
		buf := []byte("hello")
		if err := b.Publish(context.Background(), p+".x", buf); err != nil {
			t.Fatal(err)
		}
		copy(buf, "world") // the publisher reuses its buffer
		if m := recv(t, a); string(m.Data) != "XXXXX" {
			t.Errorf("first subscriber got %q", m.Data)
		}
		if m := recv(t, c); string(m.Data) != "hello" {
			t.Errorf("second subscriber got %q, want %q", m.Data, "hello")
		}
		publish(t, b, p+".x", "")
		if m := recv(t, c); len(m.Data) != 0 {
			t.Errorf("empty message arrived as %q", m.Data)
		}
	})

	t.Run("unsubscribe", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		var calls, late atomic.Int64
		var done atomic.Bool
		witness := make(chan Msg, 200)
		h, second, release := stalling(&calls, &late, &done)
		sub := subscribe(t, b, p+".x", h)
		subscribe(t, b, p+".x", collect(witness))
		for i := range 50 {
			publish(t, b, p+".x", strconv.Itoa(i))
		}
		for range 50 { // all 50 have reached the subscription
			recv(t, witness)
		}
		close(release)
		<-second // the handler is in message 1 of 50, with the rest waiting
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		done.Store(true)
		for i := range 50 {
			publish(t, b, p+".x", strconv.Itoa(50+i))
		}
		for range 50 {
			recv(t, witness)
		}
		time.Sleep(20 * time.Millisecond) // room for a wrong late call to show
		if n := late.Load(); n > 0 {
			t.Errorf("handler called %d times after Unsubscribe returned", n)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("handler called %d times, want 2: Unsubscribe should discard what is queued", n)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Errorf("second Unsubscribe = %v, want nil", err)
		}
	})

	t.Run("unsubscribe from the handler", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		var calls atomic.Int64
		var sub Subscription
		ready, unsubscribed := make(chan struct{}), make(chan error, 1)
		sub = subscribe(t, b, p+".x", func(m Msg) {
			<-ready
			if calls.Add(1) == 1 {
				unsubscribed <- sub.Unsubscribe() // must not wait for itself
			}
		})
		close(ready)
		witness := make(chan Msg, 20)
		subscribe(t, b, p+".x", collect(witness))
		for i := range 10 {
			publish(t, b, p+".x", strconv.Itoa(i))
		}
		select {
		case err := <-unsubscribed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(wait):
			t.Fatal("Unsubscribe from within the handler did not return")
		}
		for range 10 {
			recv(t, witness)
		}
		time.Sleep(20 * time.Millisecond)
		if n := calls.Load(); n != 1 {
			t.Errorf("handler called %d times, want 1", n)
		}
	})

	t.Run("unsubscribe waits for the running handler", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		entered, release := make(chan struct{}), make(chan struct{})
		var returned atomic.Bool
		sub := subscribe(t, b, p+".x", func(Msg) {
			close(entered)
			<-release
			returned.Store(true)
		})
		publish(t, b, p+".x", "1")
		<-entered
		result := make(chan bool)
		go func() {
			sub.Unsubscribe()
			result <- returned.Load()
		}()
		select {
		case <-result:
			t.Fatal("Unsubscribe returned while the handler was running")
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		if ok := <-result; !ok {
			t.Error("Unsubscribe returned before the handler did")
		}
	})

	t.Run("slow subscriber", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		const n = 500
		release := make(chan struct{})
		defer close(release)
		subscribe(t, b, p+".x", func(Msg) { <-release })
		fast := make(chan Msg, n)
		subscribe(t, b, p+".*", collect(fast))
		published := make(chan error, 1)
		go func() {
			for i := range n {
				if err := b.Publish(context.Background(), p+".x", []byte(strconv.Itoa(i))); err != nil {
					published <- err
					return
				}
			}
			published <- nil
		}()
		select {
		case err := <-published:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(wait):
			t.Fatal("Publish blocked behind a slow subscriber")
		}
		for i := range n {
			if m := recv(t, fast); string(m.Data) != strconv.Itoa(i) {
				t.Fatalf("fast subscriber: message %d is %q", i, m.Data)
			}
		}
	})

	t.Run("closed bus", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		ctx := context.Background()
		if err := b.Ping(ctx); err != nil {
			t.Fatalf("Ping on an open bus = %v", err)
		}
		var calls, late atomic.Int64
		var closed atomic.Bool
		h, second, release := stalling(&calls, &late, &closed)
		sub := subscribe(t, b, p+".x", h)
		witness := make(chan Msg, 20)
		subscribe(t, b, p+".x", collect(witness))
		for i := range 20 {
			publish(t, b, p+".x", strconv.Itoa(i))
		}
		for range 20 {
			recv(t, witness)
		}
		close(release)
		<-second
		if err := b.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		closed.Store(true)
		if err := b.Publish(ctx, p+".x", []byte("x")); !errs.Is(err, errs.Unavailable) {
			t.Errorf("Publish after Close = %v, want Unavailable", err)
		}
		if _, err := b.Subscribe(p+".x", func(Msg) {}); !errs.Is(err, errs.Unavailable) {
			t.Errorf("Subscribe after Close = %v, want Unavailable", err)
		}
		if err := b.Ping(ctx); !errs.Is(err, errs.Unavailable) {
			t.Errorf("Ping after Close = %v, want Unavailable", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Errorf("Unsubscribe after Close = %v, want nil", err)
		}
		time.Sleep(20 * time.Millisecond)
		if n := late.Load(); n > 0 {
			t.Errorf("handler called %d times after Close returned", n)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("handler called %d times, want 2: Close should discard what is queued", n)
		}
	})

	t.Run("close from a handler", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		closed := make(chan error, 1)
		subscribe(t, b, p+".x", func(Msg) { closed <- b.Close() })
		publish(t, b, p+".x", "bye")
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(wait):
			t.Fatal("Close from within a handler did not return")
		}
	})

	t.Run("context", func(t *testing.T) {
		b, p := newBus(t), prefix(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := b.Publish(ctx, p+".x", nil); !errors.Is(err, context.Canceled) {
			t.Errorf("Publish with a canceled context = %v", err)
		}
		if err := b.Ping(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Ping with a canceled context = %v", err)
		}
		tctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := b.Ping(tctx); err != nil {
			t.Errorf("Ping with a deadline = %v", err)
		}
	})
}

// stalling returns a handler that counts its calls, and its calls once *after is true in late.
// It stalls in its first call until release is closed, and signals second when its second call
// begins, which then takes 50 ms. A test publishes many messages, waits for them to be queued,
// closes release and, on second, stops the subscription with the rest still waiting: then calls
// must end at 2.
func stalling(calls, late *atomic.Int64, after *atomic.Bool) (h Handler, second, release chan struct{}) {
	second, release = make(chan struct{}), make(chan struct{})
	h = func(Msg) {
		if after.Load() {
			late.Add(1)
		}
		switch calls.Add(1) {
		case 1:
			<-release
		case 2:
			close(second)
			time.Sleep(50 * time.Millisecond)
		}
	}
	return h, second, release
}

// matchCases are pattern/subject pairs with NATS's answer.
var matchCases = []struct {
	pattern, subject string
	want             bool
}{
	{"a", "a", true},
	{"a", "b", false},
	{"a", "ab", false},
	{"ab", "a", false},
	{"A", "a", false},
	{"a", "a.b", false},
	{"a.b", "a", false},
	{"a.b", "a.b", true},
	{"a.b", "a.bb", false},
	{"a.b", "b.a", false},
	{"*", "a", true},
	{"*", "a.b", false},
	{"a.*", "a.b", true},
	{"a.*", "a", false},
	{"a.*", "a.b.c", false},
	{"a.*", "b.c", false},
	{"*.b", "a.b", true},
	{"*.b", "a.c", false},
	{"*.*", "a.b", true},
	{"*.*", "a", false},
	{"a.*.c", "a.b.c", true},
	{"a.*.c", "a.b.d", false},
	{">", "a", true},
	{">", "a.b.c", true},
	{"a.>", "a", false},
	{"a.>", "a.b", true},
	{"a.>", "a.b.c.d", true},
	{"a.>", "b.c", false},
	{"a.*.>", "a.b", false},
	{"a.*.>", "a.b.c", true},
	{"*.>", "a", false},
	{"*.>", "a.b", true},
	{"chat.w1.*", "chat.w1.c2", true},
	{"chat.w1.*", "chat.w10.c2", false},
	{"presence.*.u1", "presence.w1.u1", true},
	{"presence.*.u1", "presence.w1.u2", false},
	{"$SYS.>", "$SYS.x", true},
	{"café.*", "café.crème", true},
	{"a-b_c:d/e", "a-b_c:d/e", true},
}

// fence returns a literal subject that pattern matches.
func fence(pattern string) string {
	toks := strings.Split(pattern, ".")
	for i, t := range toks {
		if t == "*" || t == ">" {
			toks[i] = "fence"
		}
	}
	return strings.Join(toks, ".")
}

// validCases are subjects and whether ValidSubject accepts them to publish (no wildcards) and to
// subscribe (wildcards allowed).
var validCases = []struct {
	s        string
	pub, sub bool
}{
	{"a", true, true},
	{"a.b.c", true, true},
	{"a-b_c:d/e", true, true},
	{"$SYS.x", true, true},
	{"café", true, true},
	{"a." + strings.Repeat("x", MaxSubjectLen-2), true, true},
	{"a." + strings.Repeat("x", MaxSubjectLen-1), false, false},
	{"", false, false},
	{".", false, false},
	{"a.", false, false},
	{".a", false, false},
	{"a..b", false, false},
	{"a b", false, false},
	{"a\tb", false, false},
	{"a\nb", false, false},
	{"a\r", false, false},
	{"a\u00a0b", false, false},
	{"a\x00b", false, false},
	{"a\x7fb", false, false},
	{"a\xffb", false, false},
	{"*", false, true},
	{">", false, true},
	{"a.*", false, true},
	{"a.*.c", false, true},
	{"a.>", false, true},
	{"a.*.>", false, true},
	{"*.*", false, true},
	{"a.>.b", false, false},
	{">.a", false, false},
	{">.>", false, false},
	{"a*", false, false},
	{"a.b*", false, false},
	{"*a", false, false},
	{"a>", false, false},
	{"a.>b", false, false},
	{"**", false, false},
	{">>", false, false},
	{"a.*.", false, false},
}

// prefix returns a subject prefix unique to this test and run.
func prefix(t *testing.T) string {
	var b [6]byte
	rand.Read(b[:])
	return "beckontest.t" + hex.EncodeToString(b[:])
}

// subscribe subscribes h to subject, failing the test on error.
func subscribe(t testing.TB, b Bus, subject string, h Handler) Subscription {
	t.Helper()
	sub, err := b.Subscribe(subject, h)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", subject, err)
	}
	return sub
}

// publish publishes data to subject, failing the test on error.
func publish(t testing.TB, b Bus, subject, data string) {
	t.Helper()
	if err := b.Publish(context.Background(), subject, []byte(data)); err != nil {
		t.Fatalf("Publish(%q): %v", subject, err)
	}
}

// collect returns a handler that sends every message to ch.
func collect(ch chan<- Msg) Handler { return func(m Msg) { ch <- m } }

// recv returns the next message from ch, failing the test if none arrives in time.
func recv(t testing.TB, ch <-chan Msg) Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(wait):
		t.Fatal("no message arrived")
		return Msg{}
	}
}

// logBuffer is a concurrency-safe log destination whose text tests can inspect.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}
