package notify

import (
	"context"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/secret"
	"github.com/beckonhq/beckon/internal/workspace"
)

// env is a Service over a real database with two workspaces, a rep in each, an in-process bus
// and a job queue (not running until run is called).
type env struct {
	t          *testing.T
	d          *db.DB
	s          *Service
	q          *jobs.Queue
	bus        bus.Bus
	keys       *secret.Keyring
	ws, other  string
	rep, alien string // user ids in ws and other
}

func testKeys(t testing.TB) *secret.Keyring {
	k, err := secret.NewKeyring([]byte("notify test keyring key, 32 bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEnv(t *testing.T, d *db.DB, opt Options) *env {
	t.Helper()
	ctx := context.Background()
	clk := clock.System{}
	e := &env{t: t, d: d, bus: bus.NewInProcess(), keys: testKeys(t)}
	t.Cleanup(func() { e.bus.Close() })
	wss := workspace.NewStore(d, clk)
	ids := identity.NewService(d, clk, nil, identity.Options{Hash: identity.TestHashParams})
	for i, name := range []string{"Acme", "Globex"} {
		w, err := wss.Create(ctx, d, workspace.New{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		u, err := ids.CreateUser(ctx, d, identity.NewUser{WorkspaceID: w.ID, Email: "rep@" + name + ".example", Role: identity.RoleRep})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.ws, e.rep = w.ID, u.ID
		} else {
			e.other, e.alien = w.ID, u.ID
		}
	}
	e.q = jobs.New(d, clk, nil, jobs.Options{Workers: 2, PollInterval: 20 * time.Millisecond,
		BackoffBase: 20 * time.Millisecond, BackoffMax: 80 * time.Millisecond, Lease: 30 * time.Second})
	e.s = NewService(d, clk, e.bus, e.q, e.keys, opt)
	return e
}

// run starts the job queue until the end of the test.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.q.Run(ctx)
	}()
	e.t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond every 10 ms until it holds, failing the test after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for i := 0; i < int(timeout/(10*time.Millisecond)); i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !cond() {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// waitDelivery waits until delivery dlvID is final (succeeded or failed) and returns it.
func (e *env) waitDelivery(chID, dlvID string) *Delivery {
	e.t.Helper()
	var got *Delivery
	waitFor(e.t, "delivery "+dlvID, 15*time.Second, func() bool {
		list, err := e.s.Deliveries(context.Background(), e.ws, chID, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, d := range list {
			if d.ID == dlvID && (d.State == DeliverySucceeded || d.State == DeliveryFailed) {
				got = d
				return true
			}
		}
		return false
	})
	return got
}

// job returns the job of a delivery.
func (e *env) job(d *Delivery) *jobs.Job {
	e.t.Helper()
	j, err := e.q.Get(context.Background(), e.ws, d.JobID)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func ptr[T any](v T) *T { return &v }
