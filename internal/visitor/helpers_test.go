package visitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

type fixture struct {
	d   *db.DB
	clk *clock.Fake
	ws  string
	svc *visitor.Service
}

// setup returns a workspace and a Service on d whose writer is not running: tests write the queue
// with Flush, so that nothing depends on timing.
func setup(t *testing.T, d *db.DB, opts visitor.Options) *fixture {
	t.Helper()
	clk := clock.NewFake(t0)
	ws, err := workspace.NewStore(d, clk).Create(context.Background(), d, workspace.New{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{d: d, clk: clk, ws: ws.ID, svc: newService(t, d, clk, opts)}
}

func newService(t testing.TB, d *db.DB, clk clock.Clock, opts visitor.Options) *visitor.Service {
	t.Helper()
	svc, err := visitor.New(d, clk, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	return svc
}

func (f *fixture) hello(t *testing.T, visitorID, url string) *visitor.HelloResult {
	t.Helper()
	r, err := f.svc.Hello(context.Background(), visitor.HelloInput{WorkspaceID: f.ws, VisitorID: visitorID,
		Page: visitor.Page{URL: url, Title: "Page"}, TimeZone: "Europe/Berlin", Language: "de-DE", UserAgent: uaChromeDesktop})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) flush(t *testing.T) {
	t.Helper()
	if err := f.svc.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.d.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) session(t *testing.T, id string) *visitor.Session {
	t.Helper()
	s, err := f.svc.SessionByID(context.Background(), f.ws, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
