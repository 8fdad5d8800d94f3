package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
)

// openBare opens a fresh SQLite database (no migrations) with one connection, so every query
// below runs on the same connection and its kept statements.
func openBare(t *testing.T) *db.DB {
	t.Helper()
	d, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	d.SetMaxOpenConns(1)
	if _, err := d.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return d
}

// The statement cache must behave exactly like preparing every query anew.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()

	t.Run("reuse with other arguments", func(t *testing.T) {
		d := openBare(t)
		for i := range 50 {
			if _, err := d.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ($1, $2)`, i, fmt.Sprint("v", i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 50 {
			var v string
			if err := d.QueryRowContext(ctx, `SELECT v FROM t WHERE k = $1`, i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
				t.Fatalf("k=%d: %q, %v", i, v, err)
			}
		}
	})

	t.Run("same query nested inside its own rows", func(t *testing.T) {
		d := openBare(t)
		d.Exec(`INSERT INTO t (k, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')`)
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		const q = `SELECT k, v FROM t WHERE k >= $1 ORDER BY k`
		outer, err := tx.QueryContext(ctx, q, 1)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for outer.Next() {
			var k int
			var v string
			outer.Scan(&k, &v)
			inner, err := tx.QueryContext(ctx, q, k)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for inner.Next() {
				n++
			}
			inner.Close()
			got = append(got, fmt.Sprint(v, n))
		}
		if err := outer.Err(); err != nil {
			t.Fatal(err)
		}
		outer.Close()
		if fmt.Sprint(got) != "[a3 b2 c1]" {
			t.Fatalf("got %v", got)
		}
	})

	t.Run("rows left early, then reused", func(t *testing.T) {
		d := openBare(t)
		d.Exec(`INSERT INTO t (k, v) VALUES (1, 'a'), (2, 'b')`)
		for range 3 {
			rows, err := d.QueryContext(ctx, `SELECT v FROM t ORDER BY k`)
			if err != nil {
				t.Fatal(err)
			}
			rows.Next()
			var v string
			rows.Scan(&v)
			rows.Close()
			if v != "a" {
				t.Fatalf("v = %q", v)
			}
		}
	})

	t.Run("a failed statement leaves the next run clean", func(t *testing.T) {
		d := openBare(t)
		const ins = `INSERT INTO t (k, v) VALUES ($1, $2)`
		if _, err := d.ExecContext(ctx, ins, 1, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, ins, 1, "dup"); err == nil {
			t.Fatal("duplicate key accepted")
		}
		if _, err := d.ExecContext(ctx, ins, 2, nil); err == nil {
			t.Fatal("NULL accepted")
		}
		if _, err := d.ExecContext(ctx, ins, 2, "b"); err != nil {
			t.Fatalf("after failures: %v", err)
		}
		var n int
		d.QueryRow(`SELECT count(*) FROM t`).Scan(&n)
		if n != 2 {
			t.Fatalf("rows = %d", n)
		}
	})

	t.Run("schema change after a statement was kept", func(t *testing.T) {
		d := openBare(t)
		d.Exec(`INSERT INTO t (k, v) VALUES (1, 'a')`)
		const q = `SELECT * FROM t WHERE k = 1`
		var k int
		var v string
		if err := d.QueryRow(q).Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(`ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'x'`); err != nil {
			t.Fatal(err)
		}
		var w string
		if err := d.QueryRow(q).Scan(&k, &v, &w); err != nil || w != "x" {
			t.Fatalf("after ALTER: %q, %v", w, err)
		}
		if _, err := d.Exec(`DROP TABLE t`); err != nil {
			t.Fatal(err)
		}
		if err := d.QueryRow(q).Scan(&k, &v, &w); err == nil {
			t.Fatal("query on a dropped table succeeded")
		}
		d.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
		d.Exec(`INSERT INTO t (k, v) VALUES (1, 'again')`)
		if err := d.QueryRow(q).Scan(&k, &v); err != nil || v != "again" {
			t.Fatalf("recreated: %q, %v", v, err)
		}
	})

	t.Run("scripts of several statements", func(t *testing.T) {
		d := openBare(t)
		for i := range 3 {
			script := fmt.Sprintf(`INSERT INTO t (k, v) VALUES (%d, 'a'); INSERT INTO t (k, v) VALUES (%d, 'b');`, 2*i, 2*i+1)
			if _, err := d.Exec(script); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		d.QueryRow(`SELECT count(*) FROM t`).Scan(&n)
		if n != 6 {
			t.Fatalf("rows = %d", n)
		}
	})

	t.Run("more texts than the cache keeps, some rows open", func(t *testing.T) {
		d := openBare(t)
		d.Exec(`INSERT INTO t (k, v) VALUES (1, 'a')`)
		tx, _ := d.BeginTx(ctx, nil)
		defer tx.Rollback()
		open, err := tx.QueryContext(ctx, `SELECT v FROM t WHERE k = 1 AND 0 = 0`)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 600 { // pushes the open one out of the cache
			var v string
			if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT v FROM t WHERE k = 1 AND %d = %d`, i+1, i+1)).Scan(&v); err != nil {
				t.Fatal(err)
			}
		}
		if !open.Next() {
			t.Fatalf("evicted statement's rows: %v", open.Err())
		}
		open.Close()
		var v string
		if err := tx.QueryRowContext(ctx, `SELECT v FROM t WHERE k = 1 AND 0 = 0`).Scan(&v); err != nil || v != "a" {
			t.Fatalf("after eviction: %q, %v", v, err)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		d := openBare(t)
		d.Exec(`INSERT INTO t (k, v) VALUES (1, 'a')`)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		var v string
		if err := d.QueryRowContext(cctx, `SELECT v FROM t WHERE k = $1`, 1); err.Err() == nil {
			err.Scan(&v)
		}
		if err := d.QueryRowContext(ctx, `SELECT v FROM t WHERE k = $1`, 1).Scan(&v); err != nil || v != "a" {
			t.Fatalf("after a cancelled query: %q, %v", v, err)
		}
	})
}

// Many goroutines over a pool of connections, each with its cache (run with -race).
func TestStatementCacheConcurrent(t *testing.T) {
	d, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	d.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				k := g*1000 + i
				err := d.InTx(ctx, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ($1, $2)`, k, fmt.Sprint(k)); err != nil {
						return err
					}
					var v string
					if err := tx.QueryRowContext(ctx, `SELECT v FROM t WHERE k = $1`, k).Scan(&v); err != nil {
						return err
					}
					if v != fmt.Sprint(k) {
						return fmt.Errorf("k %d read %q", k, v)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var n int
	d.QueryRow(`SELECT count(*) FROM t`).Scan(&n)
	if n != 800 {
		t.Fatalf("rows = %d", n)
	}
}

// With SQLite's automatic checkpoint off, the background checkpointer moves committed pages
// into the database file.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	d, err := db.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var auto int
	if err := d.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d, %v; want 0", auto, err)
	}
	d.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	before := fileSize(t, path)
	big := strings.Repeat("x", 4000)
	for i := range 300 {
		if _, err := d.Exec(`INSERT INTO t (k, v) VALUES ($1, $2)`, i, big); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, path) < before+1_000_000 {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes after 1.2 MB of writes: nothing was checkpointed", fileSize(t, path))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
