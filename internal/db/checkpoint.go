package db

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often the checkpointer looks for committed writes to move from the WAL
// into the database file.
const checkpointEvery = 250 * time.Millisecond

// checkpointer moves committed pages from SQLite's write-ahead log into the database file in the
// background.
//
// By default SQLite does that in whichever commit takes the log past 1,000 pages: that commit
// then copies the pages and syncs the file before it returns, and a chat message's commit would
// wait tens or hundreds of milliseconds for it now and then. Beckon's connections turn the
// automatic checkpoint off (wal_autocheckpoint=0) and this goroutine runs a PASSIVE checkpoint,
// which neither waits for nor blocks readers and writers, after writes were committed.
type checkpointer struct {
	d       *DB
	writes  *atomic.Uint64 // counted by the connections (stmtCacheConnector)
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func startCheckpointer(d *DB, writes *atomic.Uint64) *checkpointer {
	c := &checkpointer{d: d, writes: writes, stop: make(chan struct{}), stopped: make(chan struct{})}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.stopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var seen uint64
	pending := false // the last checkpoint could not copy everything (a reader held old pages)
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if n := c.writes.Load(); n != seen || pending {
			seen = n
			pending = !c.checkpoint()
		}
	}
}

// checkpoint runs one PASSIVE checkpoint: writers and readers go on while it copies. It reports
// whether every committed page was copied; a failure, or pages a reader still held, are left
// for the next round.
func (c *checkpointer) checkpoint() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, logPages, done int
	if err := c.d.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
		return false
	}
	return done >= logPages
}

// close stops the checkpointer and waits for it.
func (c *checkpointer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.stopped
}
