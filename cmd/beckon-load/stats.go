package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// quantiles is a latency distribution summarised in milliseconds (to the microsecond).
type quantiles struct {
	N      int     `json:"n"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	P999ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// quantile returns the p-quantile (0 ≤ p ≤ 1) of sorted by the nearest-rank method: the smallest
// sample with at least p of the samples at or below it. It returns 0 for no samples.
func quantile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// Nearest rank: ceil(p·n), 1-based. Computed in integers (per mille of per mille) so that
	// p·n landing exactly on a whole number is not pushed one rank up by floating-point error.
	rank := (int64(p*1_000_000+0.5)*int64(n) + 999_999) / 1_000_000
	rank = max(1, min(int64(n), rank))
	return sorted[rank-1]
}

// summarise sorts samples in place and returns their median, p99, p99.9 and maximum.
func summarise(samples []time.Duration) quantiles {
	slices.Sort(samples)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := quantiles{N: len(samples)}
	if len(samples) > 0 {
		q.P50ms, q.P99ms, q.P999ms = ms(quantile(samples, 0.50)), ms(quantile(samples, 0.99)), ms(quantile(samples, 0.999))
		q.MaxMs = ms(samples[len(samples)-1])
	}
	return q
}

// recorder collects latency samples from many goroutines, up to a fixed number (the rest are
// counted but not kept, so memory stays bounded however long a run is).
type recorder struct {
	mu      sync.Mutex
	samples []time.Duration
	limit   int
	dropped int
	// The largest sample by the second (since start) of the event it times, to show when
	// stalls happened; at most maxSeconds seconds.
	start time.Time
	bySec []time.Duration
}

const maxSeconds = 600

func newRecorder(limit int) *recorder { return &recorder{limit: limit} }

// begin sets the start of the per-second maxima (before any add).
func (r *recorder) begin(t time.Time) { r.start = t }

// add records one sample, of an event that started at the given time.
func (r *recorder) add(at time.Time, d time.Duration) {
	r.mu.Lock()
	if len(r.samples) < r.limit {
		r.samples = append(r.samples, d)
	} else {
		r.dropped++
	}
	if !r.start.IsZero() {
		if s := int(at.Sub(r.start) / time.Second); s >= 0 && s < maxSeconds {
			for len(r.bySec) <= s {
				r.bySec = append(r.bySec, 0)
			}
			r.bySec[s] = max(r.bySec[s], d)
		}
	}
	r.mu.Unlock()
}

// maxBySecond is the largest sample of each second since begin, in milliseconds.
func (r *recorder) maxBySecond() []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]float64, len(r.bySec))
	for i, d := range r.bySec {
		out[i] = float64(d.Microseconds()) / 1000
	}
	return out
}

// count is the number of samples recorded so far, kept or not.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples) + r.dropped
}

// summary summarises a copy of the samples kept so far.
func (r *recorder) summary() quantiles {
	r.mu.Lock()
	s := slices.Clone(r.samples)
	r.mu.Unlock()
	return summarise(s)
}

// pacer spaces events evenly at a rate a second across goroutines.
type pacer struct {
	mu   sync.Mutex
	gap  time.Duration
	next time.Time
}

func newPacer(perSecond float64) *pacer {
	return &pacer{gap: time.Duration(float64(time.Second) / perSecond)}
}

// wait blocks until the caller's turn, or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.gap)
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// progress tells the person running the tool where a long run is, on standard error.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "beckon-load: "+format+"\n", args...)
}

// ratio is a/b to two decimals, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return float64(int(a/b*100+0.5)) / 100
}

// round1 rounds to one decimal.
func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
