// Package testkit holds test helpers shared by every package's tests: a migrated database on each
// engine, an SMTP server, a headless browser. It is imported only from _test.go files.
package testkit

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/id"
)

// EnvPostgres names the variable with a PostgreSQL URL for tests; when it is set, ForEachDB runs on
// PostgreSQL as well as SQLite.
const EnvPostgres = "BECKON_TEST_POSTGRES_URL"

// ForEachDB runs f as a subtest once per available engine ("sqlite", and "postgres" when
// BECKON_TEST_POSTGRES_URL is set), each with its own freshly migrated, isolated database.
func ForEachDB(t *testing.T, f func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { f(t, SQLite(t)) })
	if os.Getenv(EnvPostgres) != "" {
		t.Run("postgres", func(t *testing.T) { f(t, Postgres(t)) })
	}
}

// SQLite returns a migrated SQLite database in a temporary folder, closed at the end of the test.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// PostgresURL returns a URL for a fresh, empty schema of its own on the PostgreSQL server named by
// BECKON_TEST_POSTGRES_URL, dropped at the end of the test; it skips the test when the variable is
// unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " not set")
	}
	schema := "t_" + strings.TrimPrefix(id.New("x"), "x_")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres returns a migrated PostgreSQL database in a schema of its own (see PostgresURL).
func Postgres(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), PostgresURL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(fmt.Errorf("migrate: %w", err))
	}
	return d
}
