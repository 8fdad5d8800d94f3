package db

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync/atomic"
)

// stmtCacheSize is how many prepared statements each SQLite connection keeps. Beckon's queries are
// fixed texts, so the hot ones stay prepared (IN lists, of many lengths, are not kept: maxKeptArgs).
const stmtCacheSize = 256

// stmtCacheConnector hands out SQLite connections that keep their prepared statements.
//
// database/sql prepares a query anew whenever it is run on a connection (QueryContext and
// ExecContext with text), and for SQLite, parsing and planning is about a quarter of the CPU a
// chat message costs. A connection of this connector keeps up to stmtCacheSize statements by
// their text, least recently used first out, and runs a query on its kept statement, which
// modernc.org/sqlite resets, instead of preparing it again. A statement whose rows are still
// open (a query nested inside another's rows loop, with the same text) runs on a fresh one.
//
// Its connections also count the writes they commit, the background checkpointer's cue.
type stmtCacheConnector struct {
	driver.Connector
	writes *atomic.Uint64
}

// Connect opens a connection with a statement cache; it returns the driver's error.
func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	qc, ok1 := conn.(driver.QueryerContext)
	ec, ok2 := conn.(driver.ExecerContext)
	pc, ok3 := conn.(driver.ConnPrepareContext)
	bc, ok4 := conn.(driver.ConnBeginTx)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return conn, nil // not the driver this was written for: no cache
	}
	return &cachingConn{Conn: conn, q: qc, e: ec, p: pc, b: bc, writes: c.writes, stmts: map[string]*list.Element{}, lru: list.New()}, nil
}

// cachingConn is one SQLite connection with its kept statements. database/sql never uses a
// connection from two goroutines at once, so it needs no lock of its own.
type cachingConn struct {
	driver.Conn
	q      driver.QueryerContext
	e      driver.ExecerContext
	p      driver.ConnPrepareContext
	b      driver.ConnBeginTx
	writes *atomic.Uint64
	stmts  map[string]*list.Element // of *keptStmt, by query text
	lru    *list.List               // front: most recently used
}

type keptStmt struct {
	query string
	st    driver.Stmt
	busy  bool // its rows are open
}

var (
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
)

// maxKeptArgs is the most arguments a kept statement takes. IN lists are written with as many
// placeholders as keys (db.InChunks: 1 to 500), so each length is a text of its own; keeping
// them would push the hot statements out and hold about 94 KB a statement.
const maxKeptArgs = 32

// kept returns the connection's statement for query, preparing and keeping it if need be, or nil
// when it should not be kept (a script of several statements, more than maxKeptArgs arguments)
// or is busy.
func (c *cachingConn) kept(ctx context.Context, query string, nargs int) (*keptStmt, error) {
	if nargs > maxKeptArgs {
		return nil, nil
	}
	if el, ok := c.stmts[query]; ok {
		k := el.Value.(*keptStmt)
		if k.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		return k, nil
	}
	if strings.Contains(strings.TrimRight(query, "; \t\n"), ";") {
		return nil, nil
	}
	st, err := c.p.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	_, ok1 := st.(driver.StmtQueryContext)
	_, ok2 := st.(driver.StmtExecContext)
	if !ok1 || !ok2 {
		st.Close()
		return nil, nil
	}
	k := &keptStmt{query: query, st: st}
	c.stmts[query] = c.lru.PushFront(k)
	for c.lru.Len() > stmtCacheSize {
		c.drop(c.lru.Back())
	}
	return k, nil
}

// drop forgets a kept statement, closing it unless its rows are open (their Close does it then).
func (c *cachingConn) drop(el *list.Element) {
	k := c.lru.Remove(el).(*keptStmt)
	delete(c.stmts, k.query)
	if !k.busy {
		k.st.Close()
	}
}

// QueryContext runs query on its kept statement; its rows free the statement for the next use
// when closed. It returns the driver's errors.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	k, err := c.kept(ctx, query, len(args))
	if err != nil || k == nil {
		return c.q.QueryContext(ctx, query, args)
	}
	rows, err := k.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.forget(k)
		return nil, err
	}
	k.busy = true
	return &keptRows{Rows: rows, c: c, k: k}, nil
}

// ExecContext runs query on its kept statement; it returns the driver's errors.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.writes.Add(1)
	k, err := c.kept(ctx, query, len(args))
	if err != nil || k == nil {
		return c.e.ExecContext(ctx, query, args)
	}
	res, err := k.st.(driver.StmtExecContext).ExecContext(ctx, args)
	if err != nil {
		c.forget(k)
		return nil, err
	}
	return res, nil
}

// forget drops a statement that failed, so an error never leaves a statement in an unknown state
// for the next query.
func (c *cachingConn) forget(k *keptStmt) {
	if el, ok := c.stmts[k.query]; ok && el.Value.(*keptStmt) == k {
		c.drop(el)
	}
}

// PrepareContext prepares a statement the caller owns (database/sql's Prepare); it is not kept.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.p.PrepareContext(ctx, query)
}

// BeginTx begins a transaction on the driver's connection; its commit counts as a write. It
// returns the driver's error.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return countedTx{Tx: tx, writes: c.writes}, nil
}

// Begin is BeginTx with default options, for callers of the old interface.
func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// countedTx counts its commit.
type countedTx struct {
	driver.Tx
	writes *atomic.Uint64
}

// Commit commits; it returns the driver's error.
func (t countedTx) Commit() error {
	t.writes.Add(1)
	return t.Tx.Commit()
}

// Close closes the kept statements, then the connection; it returns the first error.
func (c *cachingConn) Close() error {
	var errList []error
	for el := c.lru.Front(); el != nil; el = el.Next() {
		errList = append(errList, el.Value.(*keptStmt).st.Close())
	}
	c.stmts, c.lru = map[string]*list.Element{}, list.New()
	errList = append(errList, c.Conn.Close())
	return errors.Join(errList...)
}

// ResetSession passes database/sql's check between uses to the driver.
func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid reports whether the driver's connection may be reused.
func (c *cachingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// Ping checks the driver's connection.
func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// keptRows are a kept statement's rows; closing them frees the statement.
type keptRows struct {
	driver.Rows
	c      *cachingConn
	k      *keptStmt
	closed bool
}

// Close closes the rows (the driver resets the statement) and frees the statement; if it failed
// or was dropped meanwhile, the statement is closed for good. It returns the driver's error.
func (r *keptRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.k.busy = false
	if el, ok := r.c.stmts[r.k.query]; !ok || el.Value.(*keptStmt) != r.k {
		r.k.st.Close() // dropped while its rows were open
	} else if err != nil {
		r.c.drop(el)
	}
	return err
}
