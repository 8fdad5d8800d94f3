package spam

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
)

// Refusals counts what the spam defences refused, per workspace, UTC day and reason, so admins
// see it (E4). Count only adds to memory, so a flood of refusals costs no database writes of its
// own; a loop writes the counts every FlushEvery (one upsert per workspace, day and reason) and
// once more when it stops. Counts held in memory when a process dies are lost: at most
// FlushEvery's worth. It owns the table spam_refusals.
type Refusals struct {
	d   *db.DB
	clk clock.Clock
	log *slog.Logger

	mu      sync.Mutex
	pending map[refusalKey]*refusalCount
}

// FlushEvery is how often Run writes the counts.
const FlushEvery = 5 * time.Second

// MaxPending bounds the distinct (workspace, day, reason) counts held between two writes; past
// it, new keys are dropped (and logged) until the next write.
const MaxPending = 10000

type refusalKey struct{ ws, day, reason string }

type refusalCount struct {
	n      int64
	last   time.Time
	sample string
}

// NewRefusals returns a counter writing to d; log receives write failures (nil discards them).
func NewRefusals(d *db.DB, clk clock.Clock, log *slog.Logger) *Refusals {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Refusals{d: d, clk: clk, log: log, pending: map[refusalKey]*refusalCount{}}
}

// Count adds one refusal of reason in workspace wsID ("" when the workspace is unknown, e.g. a
// request refused before its site was looked up). sample is what admins see of the last one (a
// domain, a field name; never an address in full), cut to 200 bytes.
func (r *Refusals) Count(wsID, reason, sample string) {
	now := r.clk.Now().UTC()
	k := refusalKey{ws: wsID, day: now.Format("2006-01-02"), reason: clip(reason, 60)}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.pending[k]
	if !ok {
		if len(r.pending) >= MaxPending {
			return
		}
		c = &refusalCount{}
		r.pending[k] = c
	}
	c.n++
	c.last = now
	c.sample = clip(sample, 200)
}

// Run writes the counts every FlushEvery until ctx ends, then once more.
func (r *Refusals) Run(ctx context.Context) {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r.Flush(fctx)
			cancel()
			return
		case <-t.C:
			r.Flush(ctx)
		}
	}
}

// Flush writes the counts held in memory. Counts it fails to write are kept for the next try.
func (r *Refusals) Flush(ctx context.Context) error {
	r.mu.Lock()
	batch := r.pending
	r.pending = map[refusalKey]*refusalCount{}
	r.mu.Unlock()
	var firstErr error
	for k, c := range batch {
		_, err := r.d.ExecContext(ctx, `INSERT INTO spam_refusals (workspace_id, day, reason, count, last_at, last_sample)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, day, reason)
			DO UPDATE SET count = spam_refusals.count + $4, last_at = $5, last_sample = $6`,
			k.ws, k.day, k.reason, c.n, db.Micro(c.last), c.sample)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("spam.Flush: %w", err)
				r.log.Warn("writing spam refusal counts failed; kept for the next try", "err", err.Error())
			}
			r.mu.Lock()
			if p, ok := r.pending[k]; ok {
				p.n += c.n
			} else if len(r.pending) < MaxPending {
				r.pending[k] = c
			}
			r.mu.Unlock()
		}
	}
	return firstErr
}

// ReasonCount is the count of one reason over a range of days.
type ReasonCount struct {
	Reason     string    `json:"reason"`
	Count      int64     `json:"count"`
	LastAt     time.Time `json:"last_at"`
	LastSample string    `json:"last_sample,omitempty"`
}

// DayCount is one day's count of one reason.
type DayCount struct {
	Day    string `json:"day"` // YYYY-MM-DD, UTC
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// Summary returns workspace wsID's refusals over the last `days` UTC days (1..366), today
// included: per reason, most frequent first, and per day and reason. Counts still in memory
// (at most FlushEvery old) are included.
func (r *Refusals) Summary(ctx context.Context, wsID string, days int) ([]ReasonCount, []DayCount, error) {
	days = max(1, min(days, 366))
	now := r.clk.Now().UTC()
	from := now.AddDate(0, 0, -(days - 1)).Format("2006-01-02")
	rows, err := db.All(ctx, r.d, func(s db.Scanner) (DayCount, error) {
		var d DayCount
		var at int64
		var sample string
		err := s.Scan(&d.Day, &d.Reason, &d.Count, &at, &sample)
		return d, err
	}, `SELECT day, reason, count, last_at, last_sample FROM spam_refusals WHERE workspace_id = $1 AND day >= $2 ORDER BY day, reason`, wsID, from)
	if err != nil {
		return nil, nil, fmt.Errorf("spam.Summary: %w", err)
	}
	last, err := db.All(ctx, r.d, func(s db.Scanner) (ReasonCount, error) {
		var c ReasonCount
		var at int64
		err := s.Scan(&c.Reason, &at, &c.LastSample)
		c.LastAt = db.Time(at)
		return c, err
	}, `SELECT reason, last_at, last_sample FROM spam_refusals WHERE workspace_id = $1 AND day >= $2 ORDER BY last_at`, wsID, from)
	if err != nil {
		return nil, nil, fmt.Errorf("spam.Summary: %w", err)
	}
	byReason := map[string]*ReasonCount{}
	perDay := map[[2]string]int64{}
	for _, d := range rows {
		perDay[[2]string{d.Day, d.Reason}] += d.Count
	}
	for _, l := range last { // oldest first: the newest sample wins
		c := byReason[l.Reason]
		if c == nil {
			c = &ReasonCount{Reason: l.Reason}
			byReason[l.Reason] = c
		}
		c.LastAt, c.LastSample = l.LastAt, l.LastSample
	}
	r.mu.Lock()
	for k, p := range r.pending {
		if k.ws != wsID || k.day < from {
			continue
		}
		perDay[[2]string{k.day, k.reason}] += p.n
		c := byReason[k.reason]
		if c == nil {
			c = &ReasonCount{Reason: k.reason}
			byReason[k.reason] = c
		}
		if p.last.After(c.LastAt) {
			c.LastAt, c.LastSample = p.last, p.sample
		}
	}
	r.mu.Unlock()
	daysOut := []DayCount{}
	for k, n := range perDay {
		daysOut = append(daysOut, DayCount{Day: k[0], Reason: k[1], Count: n})
		c := byReason[k[1]]
		if c == nil {
			c = &ReasonCount{Reason: k[1]}
			byReason[k[1]] = c
		}
		c.Count += n
	}
	sort.Slice(daysOut, func(i, j int) bool {
		if daysOut[i].Day != daysOut[j].Day {
			return daysOut[i].Day < daysOut[j].Day
		}
		return daysOut[i].Reason < daysOut[j].Reason
	})
	reasons := []ReasonCount{}
	for _, c := range byReason {
		reasons = append(reasons, *c)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if reasons[i].Count != reasons[j].Count {
			return reasons[i].Count > reasons[j].Count
		}
		return reasons[i].Reason < reasons[j].Reason
	})
	return reasons, daysOut, nil
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return strings.Clone(s[:n])
}
