package bus

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
)

// EnvNATS names the variable with the URL of a NATS server for tests; the NATS tests skip when it
// is unset and fail when it is set but the server cannot be reached.
const EnvNATS = "BECKON_TEST_NATS_URL"

func natsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(EnvNATS)
	if u == "" {
		t.Skip(EnvNATS + " not set")
	}
	return u
}

func newNATS(t *testing.T, url string) Bus {
	t.Helper()
	log, _ := newTestLogger()
	b, err := NewNATS(url, log)
	if err != nil {
		t.Fatalf("NewNATS(%s): %v", EnvNATS, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestNATS(t *testing.T) {
	u := natsURL(t)
	testBus(t, func(t *testing.T) Bus { return newNATS(t, u) })
}

// TestNATSReplicas checks delivery between two connections, as between two replicas: in order,
// to subscribers on both, and Subscribe returning only once the server knows the interest.
func TestNATSReplicas(t *testing.T) {
	u := natsURL(t)
	a, b, p := newNATS(t, u), newNATS(t, u), prefix(t)
	const n = 1000
	onA, onB := make(chan Msg, n), make(chan Msg, n)
	subscribe(t, a, p+".chat.*", collect(onA))
	subscribe(t, b, p+".chat.c1", collect(onB))
	for i := range n {
		publish(t, a, p+".chat.c1", strconv.Itoa(i))
	}
	for i := range n {
		for name, ch := range map[string]chan Msg{"publishing replica": onA, "other replica": onB} {
			if m := recv(t, ch); string(m.Data) != strconv.Itoa(i) {
				t.Fatalf("%s: message %d is %q", name, i, m.Data)
			}
		}
	}
}

func TestNATSUnreachable(t *testing.T) {
	if _, err := NewNATS("", nil); !errs.Is(err, errs.Invalid) {
		t.Errorf("NewNATS with no URL = %v, want Invalid", err)
	}
	// Port 1 on loopback refuses connections at once.
	_, err := NewNATS("nats://beckon:s3cret@127.0.0.1:1", nil)
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("NewNATS of an unreachable server = %v, want Unavailable", err)
	}
	if msg := errs.As(err).Message; strings.Contains(msg, "s3cret") {
		t.Errorf("error message shows the password: %s", msg)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                      "nats://127.0.0.1:4222",
		"127.0.0.1:4222":                             "127.0.0.1:4222",
		"nats://u:pw@h:4222":                         "nats://u:xxxxx@h:4222",
		"nats://tok@h:4222,nats://u:pw@g:4222":       "nats://xxxxx@h:4222,nats://u:xxxxx@g:4222",
		"tls://user:p%40ss@nats.example.com:4443":    "tls://user:xxxxx@nats.example.com:4443",
		"nats://u:pw@h:4222, nats://h2:4222":         "nats://u:xxxxx@h:4222, nats://h2:4222",
		"nats://%zz:secret@h:4222":                   "(unparsable URL)",
		"nats://user:secret@[::1]:4222/?name=beckon": "nats://user:xxxxx@[::1]:4222/?name=beckon",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNATSDisconnect cuts the connection to the server with a proxy in between: Publish and Ping
// report Unavailable while it is down, the bus reconnects by itself when it is back, logging both,
// and subscriptions carry on.
func TestNATSDisconnect(t *testing.T) {
	u, err := url.Parse(natsURL(t))
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, u.Host)
	u.Host = px.addr
	log, logs := newTestLogger()
	b, err := NewNATS(u.String(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := prefix(t)
	got := make(chan Msg, 10)
	subscribe(t, b, p+".x", collect(got))
	publish(t, b, p+".x", "before")
	recv(t, got)

	px.setDown(true)
	ctx := context.Background()
	eventually(t, "Publish to fail while disconnected", func() bool {
		return errs.Is(b.Publish(ctx, p+".x", []byte("lost")), errs.Unavailable)
	})
	if err := b.Ping(ctx); !errs.Is(err, errs.Unavailable) {
		t.Errorf("Ping while disconnected = %v, want Unavailable", err)
	}

	px.setDown(false)
	eventually(t, "Ping to succeed after reconnecting", func() bool { return b.Ping(ctx) == nil })
	publish(t, b, p+".x", "after")
	for m := recv(t, got); string(m.Data) != "after"; m = recv(t, got) {
		if string(m.Data) != "lost" {
			t.Fatalf("got %q", m.Data)
		}
	}
	for _, want := range []string{"disconnected from NATS", "reconnected to NATS"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// eventually polls cond for up to 30 s (the client waits 2 s between reconnection attempts).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxy forwards TCP connections to a server and can cut them: while down it closes every
// connection, open or new.
type proxy struct {
	addr     string
	upstream string
	ln       net.Listener
	down     atomic.Bool
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func newProxy(t *testing.T, upstream string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &proxy{addr: ln.Addr().String(), upstream: upstream, ln: ln, conns: make(map[net.Conn]struct{})}
	t.Cleanup(func() { ln.Close(); px.closeAll() })
	go px.serve()
	return px
}

func (px *proxy) serve() {
	for {
		c, err := px.ln.Accept()
		if err != nil {
			return
		}
		if px.down.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", px.upstream)
		if err != nil {
			c.Close()
			continue
		}
		px.mu.Lock()
		px.conns[c], px.conns[up] = struct{}{}, struct{}{}
		px.mu.Unlock()
		go func() { io.Copy(up, c); up.Close(); c.Close() }()
		go func() { io.Copy(c, up); up.Close(); c.Close() }()
	}
}

func (px *proxy) setDown(down bool) {
	px.down.Store(down)
	if down {
		px.closeAll()
	}
}

func (px *proxy) closeAll() {
	px.mu.Lock()
	defer px.mu.Unlock()
	for c := range px.conns {
		c.Close()
		delete(px.conns, c)
	}
}
