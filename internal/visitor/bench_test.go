package visitor_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

// benchService returns a running Service on SQLite with the real clock, a workspace, and n
// visitors, each with an open session. The writer is closed (and the queue written) when the
// benchmark ends, inside the timing, so that a result counts the writes it caused.
func benchService(b *testing.B, n int) (*visitor.Service, string, []string) {
	b.Helper()
	ctx := context.Background()
	d := testkit.SQLite(b)
	clk := clock.System{}
	ws, err := workspace.NewStore(d, clk).Create(ctx, d, workspace.New{Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := visitor.New(d, clk, nil, visitor.Options{})
	if err != nil {
		b.Fatal(err)
	}
	go svc.Run(ctx)
	ids := make([]string, n)
	for i := range ids {
		r, err := svc.Hello(ctx, visitor.HelloInput{WorkspaceID: ws.ID, Page: visitor.Page{URL: "https://acme.example/"},
			UserAgent: uaChromeDesktop, TimeZone: "Europe/Berlin"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = r.VisitorID
	}
	b.Cleanup(func() { svc.Close(ctx) })
	return svc, ws.ID, ids
}

// BenchmarkHelloNewVisitor measures page loads of first-time visitors: each creates a visitor
// and a session in a transaction of its own.
func BenchmarkHelloNewVisitor(b *testing.B) {
	svc, ws, _ := benchService(b, 0)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Hello(ctx, visitor.HelloInput{WorkspaceID: ws, Page: visitor.Page{URL: "https://acme.example/?utm_source=x"},
				UserAgent: uaChromeDesktop, TimeZone: "Europe/Berlin", Language: "de-DE"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if err := svc.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHelloReturning measures page loads of returning visitors in an open session: the page
// view goes through the batch writer.
func BenchmarkHelloReturning(b *testing.B) {
	svc, ws, ids := benchService(b, 1000)
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			vid := ids[next.Add(1)%int64(len(ids))]
			if _, err := svc.Hello(ctx, visitor.HelloInput{WorkspaceID: ws, VisitorID: vid, Page: visitor.Page{URL: "https://acme.example/pricing"},
				UserAgent: uaChromeDesktop, TimeZone: "Europe/Berlin"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if err := svc.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPageView measures single-page-app page views in open sessions.
func BenchmarkPageView(b *testing.B) {
	svc, ws, ids := benchService(b, 1000)
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, err := svc.PageView(ctx, ws, ids[i%int64(len(ids))], visitor.Page{URL: fmt.Sprintf("https://acme.example/app/%d", i%50),
				Title: "App"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if err := svc.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
