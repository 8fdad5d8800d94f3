package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/testkit"
)

func TestMigrateIsIdempotent(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n, err := d.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second migrate: n=%d err=%v, want 0 nil", n, err)
		}
		all, unknown, err := d.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(unknown) != 0 {
			t.Fatalf("unknown versions %v", unknown)
		}
		for _, m := range all {
			if m.AppliedAt.IsZero() {
				t.Errorf("migration %d pending after Migrate", m.Version)
			}
		}
	})
}

func TestPortableSQL(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 29, 1, 30, 0, 123456000, time.UTC)
		_, err := d.ExecContext(ctx, `INSERT INTO workspaces (id, name, site_id, time_zone, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5)`, "ws_1", "Acme", "site_1", "Europe/Berlin", db.Micro(now))
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.ExecContext(ctx, `INSERT INTO workspaces (id, name, site_id, time_zone, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5)`, "ws_2", "Acme", "site_1", "UTC", db.Micro(now))
		if !db.IsUniqueViolation(err) {
			t.Fatalf("duplicate site id: got %v, want a unique violation", err)
		}
		var name string
		var created int64
		err = d.QueryRowContext(ctx, `UPDATE workspaces SET name = $1 WHERE id = $2 RETURNING name, created_at`, "Acme Inc", "ws_1").Scan(&name, &created)
		if err != nil || name != "Acme Inc" || !db.Time(created).Equal(now) {
			t.Fatalf("RETURNING: %q %v %v", name, db.Time(created), err)
		}
		// Booleans round-trip on both engines.
		_, err = d.ExecContext(ctx, `INSERT INTO users (id, workspace_id, email, role, time_zone, active, created_at, updated_at)
			VALUES ('u1', 'ws_1', 'a@b.c', 'admin', 'UTC', $1, 1, 1)`, false)
		if err != nil {
			t.Fatal(err)
		}
		var active bool
		if err := d.QueryRowContext(ctx, `SELECT active FROM users WHERE id = 'u1' AND active = FALSE`).Scan(&active); err != nil || active {
			t.Fatalf("bool: %v %v", active, err)
		}
		// A failed transaction leaves nothing behind.
		boom := errors.New("boom")
		err = d.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE workspaces SET name = 'X' WHERE id = 'ws_1'`); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx error = %v", err)
		}
		d.QueryRowContext(ctx, `SELECT name FROM workspaces WHERE id = 'ws_1'`).Scan(&name)
		if name != "Acme Inc" {
			t.Fatalf("rolled back transaction left name %q", name)
		}
	})
}

// TestSQLiteConcurrentWriters proves that 8 goroutines doing read-then-write transactions at once
// never see SQLITE_BUSY.
func TestSQLiteConcurrentWriters(t *testing.T) {
	d := testkit.SQLite(t)
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, `INSERT INTO workspaces (id, name, site_id, time_zone, created_at, updated_at) VALUES ('w', 'n', 's', 'UTC', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errc := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := d.InTx(ctx, func(tx *sql.Tx) error {
					var n int64
					if err := tx.QueryRowContext(ctx, `SELECT updated_at FROM workspaces WHERE id = 'w'`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE workspaces SET updated_at = $1 WHERE id = 'w'`, n+1)
					return err
				})
				if err != nil {
					errc <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("writer error (busy=%v): %v", db.IsBusy(err), err)
	}
	var n int64
	d.QueryRowContext(ctx, `SELECT updated_at FROM workspaces WHERE id = 'w'`).Scan(&n)
	if n != writers*each {
		t.Fatalf("counter = %d, want %d: lost updates", n, writers*each)
	}
}

func TestBackup(t *testing.T) {
	d := testkit.SQLite(t)
	ctx := context.Background()
	d.ExecContext(ctx, `INSERT INTO workspaces (id, name, site_id, time_zone, created_at, updated_at) VALUES ('w', 'Backed up', 's', 'UTC', 0, 0)`)
	to := filepath.Join(t.TempDir(), "copy.db")
	if err := d.Backup(ctx, to); err != nil {
		t.Fatal(err)
	}
	if err := d.Backup(ctx, to); err == nil {
		t.Fatal("backup over an existing file succeeded")
	}
	c, err := db.OpenSQLite(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var name string
	if err := c.QueryRowContext(ctx, `SELECT name FROM workspaces WHERE id = 'w'`).Scan(&name); err != nil || name != "Backed up" {
		t.Fatalf("backup content: %q %v", name, err)
	}
}

func TestAll(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, id := range []string{"w1", "w2", "w3"} {
			d.ExecContext(ctx, `INSERT INTO workspaces (id, name, site_id, time_zone, created_at, updated_at) VALUES ($1, $1, $1, 'UTC', 0, 0)`, id)
		}
		name := func(r db.Scanner) (string, error) {
			var s string
			return s, r.Scan(&s)
		}
		got, err := db.All(ctx, d, name, `SELECT name FROM workspaces WHERE id <> $1 ORDER BY id`, "w2")
		if err != nil || len(got) != 2 || got[0] != "w1" || got[1] != "w3" {
			t.Fatalf("All = %v, %v", got, err)
		}
		none, err := db.All(ctx, d, name, `SELECT name FROM workspaces WHERE id = 'nope'`)
		if err != nil || none == nil || len(none) != 0 {
			t.Fatalf("no rows: %#v, %v", none, err)
		}
		if _, err := db.All(ctx, d, name, `SELECT nope FROM workspaces`); err == nil {
			t.Fatal("a bad query did not fail")
		}
	})
}

func TestInChunks(t *testing.T) {
	if got := db.Placeholders(2, 3); got != "$2, $3, $4" {
		t.Fatalf("Placeholders = %q", got)
	}
	var runs []string
	err := db.InChunks([]string{"a", "b", "c", "d", "e"}, 2, 2, func(marks string, args []any) error {
		runs = append(runs, fmt.Sprint(marks, args))
		return nil
	})
	if err != nil || strings.Join(runs, " | ") != "$2, $3[a b] | $2, $3[c d] | $2[e]" {
		t.Fatalf("InChunks runs %q, %v", runs, err)
	}
	stop := errors.New("stop")
	n := 0
	if err := db.InChunks([]string{"a", "b", "c"}, 1, 1, func(string, []any) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("InChunks went on after an error: %v, %d calls", err, n)
	}
}
