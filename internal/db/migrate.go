package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered schema change from internal/db/migrations.
type Migration struct {
	Version   int
	Name      string
	SQL       string
	AppliedAt time.Time // zero when pending
}

// Migrations returns the embedded migrations in order. Files are named NNNN_name.sql, are never
// edited once released, and run on both engines. A line "-- engine: sqlite" or
// "-- engine: postgres" starts a section that runs on that engine only; "-- engine: all" ends it.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("db: read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("db: migration %s: name must be NNNN_name.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("db: migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// forEngine keeps the parts of a migration meant for engine e.
func forEngine(sqlText string, e Engine) string {
	var b strings.Builder
	keep := true
	for _, line := range strings.Split(sqlText, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- engine:"); ok {
			switch strings.TrimSpace(rest) {
			case "all":
				keep = true
			default:
				keep = strings.TrimSpace(rest) == string(e)
			}
			continue
		}
		if keep {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// Status returns every known migration with the time it was applied (zero when pending), and
// any applied version this binary does not know (a newer binary ran here).
func (d *DB) Status(ctx context.Context) (all []Migration, unknown []int, err error) {
	all, err = Migrations()
	if err != nil {
		return nil, nil, err
	}
	if _, err := d.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, nil, fmt.Errorf("db: create schema_migrations: %w", err)
	}
	applied, err := d.applied(ctx, d.DB)
	if err != nil {
		return nil, nil, err
	}
	known := map[int]bool{}
	for i := range all {
		known[all[i].Version] = true
		if at, ok := applied[all[i].Version]; ok {
			all[i].AppliedAt = at
		}
	}
	for v := range applied {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	sort.Ints(unknown)
	return all, unknown, nil
}

func (d *DB) applied(ctx context.Context, q Queryer) (map[int]time.Time, error) {
	rows, err := q.QueryContext(ctx, `SELECT version, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("db: read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			return nil, err
		}
		out[v] = Time(at)
	}
	return out, rows.Err()
}

// Migrate applies every pending migration in order, each in its own transaction together with its
// record in schema_migrations, and returns how many it applied. On PostgreSQL an advisory lock
// makes concurrent replicas take turns; on SQLite the immediate transaction does.
func (d *DB) Migrate(ctx context.Context) (int, error) {
	all, err := Migrations()
	if err != nil {
		return 0, err
	}
	if _, err := d.ExecContext(ctx, createMigrationsTable); err != nil {
		return 0, fmt.Errorf("db: create schema_migrations: %w", err)
	}
	n := 0
	for _, m := range all {
		ran := false
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			if d.Engine == Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7306128593)`); err != nil {
					return err
				}
			}
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = $1`, m.Version).Scan(&one)
			if err == nil {
				return nil // applied already, perhaps by another replica
			}
			if err != sql.ErrNoRows {
				return err
			}
			if _, err := tx.ExecContext(ctx, forEngine(m.SQL, d.Engine)); err != nil {
				return err
			}
			ran = true
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, Micro(time.Now()))
			return err
		})
		if err != nil {
			return n, fmt.Errorf("db: migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if ran {
			n++
		}
	}
	return n, nil
}
