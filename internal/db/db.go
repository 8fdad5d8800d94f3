// Package db opens Beckon's database — embedded SQLite by default, PostgreSQL when a postgres://
// URL is given — runs the embedded numbered migrations, and holds the few differences between the
// two engines. Queries are written once, in the portable subset both engines accept: $1 $2 …
// placeholders, ON CONFLICT … DO UPDATE, RETURNING. Instants are stored as BIGINT microseconds
// since the Unix epoch in UTC (see Micro and Time), so they compare and sort the same on both.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names a database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open database. Its embedded *sql.DB is safe for concurrent use.
type DB struct {
	*sql.DB
	Engine Engine
	// Path is the SQLite file, empty for PostgreSQL.
	Path string

	ckpt *checkpointer // SQLite's background checkpoints; nil for PostgreSQL
}

// Close stops SQLite's background checkpoints, then closes the database (database/sql's Close,
// whose error it returns).
func (d *DB) Close() error {
	if d.ckpt != nil {
		d.ckpt.close()
	}
	return d.DB.Close()
}

// Queryer is what *sql.DB and *sql.Tx have in common; store functions take one so that they run
// alone or inside a caller's transaction.
type Queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// SQLiteFile is the name of the database file inside the data folder.
const SQLiteFile = "beckon.db"

// Open opens the database named by url: a postgres:// or postgresql:// URL for PostgreSQL, or empty
// for SQLite in dataDir/beckon.db (the folder is created). A "sqlite:" prefix names a SQLite file
// explicitly. It pings the database before returning.
func Open(ctx context.Context, url, dataDir string) (*DB, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	case url == "":
		if dataDir == "" {
			return nil, errors.New("db: no database URL and no data folder")
		}
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("db: create data folder: %w", err)
		}
		return OpenSQLite(ctx, filepath.Join(dataDir, SQLiteFile))
	case strings.HasPrefix(url, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//"))
	default:
		return nil, fmt.Errorf("db: unsupported database URL %q (want postgres://… or empty for SQLite)", redact(url))
	}
}

// OpenSQLite opens (creating if needed) the SQLite database at path, tuned for concurrent use:
// WAL journal, a 10 s busy timeout, foreign keys on, and BEGIN IMMEDIATE for every transaction so
// that two read-then-write transactions never deadlock into SQLITE_BUSY.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("db: open sqlite: %w", err)
	}
	writes := new(atomic.Uint64)
	sdb := sql.OpenDB(stmtCacheConnector{Connector: connector, writes: writes})
	n := max(4, runtime.NumCPU()*2)
	sdb.SetMaxOpenConns(n)
	sdb.SetMaxIdleConns(n)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	d := &DB{DB: sdb, Engine: SQLite, Path: path}
	d.ckpt = startCheckpointer(d, writes)
	return d, nil
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	sdb, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	sdb.SetMaxOpenConns(20)
	sdb.SetMaxIdleConns(10)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sdb.PingContext(pctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("db: connect to postgres %s: %w", redact(url), err)
	}
	return &DB{DB: sdb, Engine: Postgres}, nil
}

// redact hides the password of a database URL for messages.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	userinfo := url[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return url[:scheme+3] + user + ":***" + url[at:]
	}
	return url
}

// InTx runs fn in a transaction, committing if fn returns nil and rolling back otherwise (also on
// panic, which is re-raised). The error of fn is returned unchanged.
func (d *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	return nil
}

// Micro returns t as microseconds since the Unix epoch, the stored form of every instant.
func Micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Time returns the instant stored as us microseconds, in UTC; 0 is the zero time.
func Time(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// IsUniqueViolation reports whether err is a unique or primary-key constraint violation on
// either engine.
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsDataException reports whether err is a PostgreSQL data exception (SQLSTATE class 22): a value
// the database cannot take, such as text that is not valid UTF-8 or holds a NUL byte (22021),
// a character with no equivalent in the database's encoding (22P05) or a string too long for
// its column (22001). Such an error comes from the input of a request, not from a fault of the
// server. SQLite stores any bytes, so it never reports one.
func IsDataException(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && strings.HasPrefix(pg.Code, "22")
}

// IsBusy reports whether err is SQLite's "database is locked" (SQLITE_BUSY), which a correctly
// configured database never returns to a caller.
func IsBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED
	}
	return false
}

// SkipLocked is the clause that lets concurrent workers claim different rows: "FOR UPDATE SKIP
// LOCKED" on PostgreSQL, nothing on SQLite, where immediate transactions already serialise writers.
func (d *DB) SkipLocked() string {
	if d.Engine == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// ForUpdate is the clause that locks the rows a SELECT reads until the transaction ends:
// "FOR UPDATE" on PostgreSQL, nothing on SQLite, where immediate transactions already serialise
// writers.
func (d *DB) ForUpdate() string {
	if d.Engine == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// Backup writes a consistent copy of a live SQLite database to path (VACUUM INTO), which must not
// exist yet. It fails on PostgreSQL, whose operators use pg_dump.
func (d *DB) Backup(ctx context.Context, path string) error {
	if d.Engine != SQLite {
		return errors.New("db: backup is for SQLite; use pg_dump for PostgreSQL")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("db: backup target %s already exists", path)
	}
	if _, err := d.ExecContext(ctx, "VACUUM INTO $1", path); err != nil {
		return fmt.Errorf("db: backup to %s: %w", path, err)
	}
	return nil
}

// Ping checks that the database answers, for /readyz.
func (d *DB) Ping(ctx context.Context) error { return d.PingContext(ctx) }

// Scanner is what *sql.Row and *sql.Rows have in common: a row to read.
type Scanner interface {
	Scan(dest ...any) error
}

// All runs query on q and returns what scan reads from each row, in order: an empty (never nil)
// slice when there are none. It returns the first error of the query, a scan or the rows.
func All[T any](ctx context.Context, q Queryer, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Placeholders returns n numbered placeholders from first on, "$2, $3, $4", for an IN list.
func Placeholders(first, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
	}
	return b.String()
}

// InChunks calls fn for keys in runs of at most size, with the run's placeholders (numbered from
// first on, see Placeholders) and the run's keys as arguments: an IN list stays bounded however
// many keys there are. It stops at fn's first error.
func InChunks(keys []string, size, first int, fn func(marks string, args []any) error) error {
	for len(keys) > 0 {
		run := keys[:min(len(keys), size)]
		keys = keys[len(run):]
		args := make([]any, len(run))
		for i, k := range run {
			args[i] = k
		}
		if err := fn(Placeholders(first, len(run)), args); err != nil {
			return err
		}
	}
	return nil
}
