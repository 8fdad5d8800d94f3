package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/testkit"
)

// Cancel deletes a queued job by its dedupe key, and only a queued one.
func TestCancel(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := jobs.New(d, clock.NewFake(time.Now()), slog.New(slog.NewTextHandler(io.Discard, nil)), jobs.Options{})
		q.Register("test.cancel", func(context.Context, *jobs.Job) error { return nil }, 1)
		if _, err := q.Enqueue(ctx, d, jobs.NewJob{Kind: "test.cancel", RunAt: time.Now().Add(time.Hour), DedupeKey: "k1"}); err != nil {
			t.Fatal(err)
		}
		if ok, err := q.Cancel(ctx, d, "k1"); err != nil || !ok {
			t.Fatalf("cancel: %v, %v", ok, err)
		}
		if ok, err := q.Cancel(ctx, d, "k1"); err != nil || ok {
			t.Fatalf("cancel again: %v, %v", ok, err)
		}
		var n int
		d.QueryRow(`SELECT COUNT(*) FROM jobs WHERE dedupe_key = 'k1'`).Scan(&n)
		if n != 0 {
			t.Fatalf("%d jobs left", n)
		}
		if _, err := q.Enqueue(ctx, d, jobs.NewJob{Kind: "test.cancel", DedupeKey: "k2"}); err != nil {
			t.Fatal(err)
		}
		d.Exec(`UPDATE jobs SET state = 'running' WHERE dedupe_key = 'k2'`)
		if ok, err := q.Cancel(ctx, d, "k2"); err != nil || ok {
			t.Fatalf("cancel of a running job: %v, %v", ok, err)
		}
	})
}
