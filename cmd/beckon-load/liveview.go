package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// liveOpts are the liveview scenario's flags.
type liveOpts struct {
	sockFlags
	visitors int
	watchers int
	rate     float64
}

// liveResult is one side's figures in the liveview scenario.
type liveResult struct {
	Visitors     int     `json:"visitors"`
	Watchers     int     `json:"watchers"`
	SetupSeconds float64 `json:"setup_s"`
	// SnapshotMs is how long the first watcher waited for a snapshot holding every visitor (Beckon
	// sends up to 200 rows a frame); SnapshotRows how many it held.
	SnapshotMs   float64 `json:"snapshot_ms,omitempty"`
	SnapshotRows int     `json:"snapshot_rows,omitempty"`
	// Changes were sent (POST /m/v1/page) during the measured phase; Seen counts (watcher, change)
	// pairs that arrived, of Changes × Watchers.
	Changes    int     `json:"changes"`
	Seen       int     `json:"seen"`
	SeenShare  float64 `json:"seen_share"`
	ChangeRate float64 `json:"changes_per_s"`
	// Latency from the page POST to the watcher reading a row with the new page.
	Latency quantiles `json:"page_to_row"`
	// Post is the page POST's own latency.
	Post quantiles `json:"page_post"`
	// Per watcher: frames and rows a second during the measured phase.
	FramesPerSecond float64   `json:"frames_per_s_per_watcher"`
	RowsPerSecond   float64   `json:"rows_per_s_per_watcher"`
	ServerCPUMs     int64     `json:"server_cpu_ms,omitempty"`
	MaxBySecond     []float64 `json:"max_ms_by_second"`
}

func cmdLiveView(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("beckon-load liveview", flag.ContinueOnError)
	var o liveOpts
	o.bind(fs)
	fs.IntVar(&o.visitors, "visitors", 5000, "visitors on the site (each says hello, then changes page now and then)")
	fs.IntVar(&o.watchers, "watchers", 10, "rep sockets watching Live View")
	fs.Float64Var(&o.rate, "rate", 100, "page changes a second over all visitors")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.visitors < 1 || o.visitors > 50_000 || o.watchers < 1 || o.watchers > 200 || o.rate <= 0 || o.rate > 5000 {
		return errors.New("-visitors must be in [1, 50000], -watchers in [1, 200], -rate in (0, 5000]")
	}
	sd, err := runSides(ctx, &o.sockFlags, o.watchers, func(ctx context.Context, t *target) (liveResult, error) { return runLiveView(ctx, t, o) })
	if err != nil {
		return err
	}
	b, base := sd.Beckon, sd.Baseline
	res := sd.report(map[string]any{
		"scenario": "liveview", "visitors": o.visitors, "watchers": o.watchers, "rate": o.rate,
		"beckon": b, "baseline": base,
		"p50_ratio":   ratio(b.Latency.P50ms, base.Latency.P50ms),
		"p99_ratio":   ratio(b.Latency.P99ms, base.Latency.P99ms),
		"baseline_is": "a bare coder/websocket server in a child process relaying each page POST at once, as one row, to every watcher: no storage, no coalescing, no bus",
	})
	return writeJSON(out, res)
}

// runLiveView says hello as o.visitors visitors, opens o.watchers rep sockets asking for Live View,
// waits for the first complete snapshot, then sends page changes at o.rate for o.duration, each
// titled with its send time, and times their arrival at every watcher.
func runLiveView(ctx context.Context, t *target, o liveOpts) (res liveResult, err error) {
	began := time.Now()
	sctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	defer cancel()
	tokens, err := t.hellos(sctx, o.visitors, o.par)
	if err != nil {
		return res, err
	}
	res.Visitors, res.Watchers = o.visitors, o.watchers
	// The rows of this run's visitors (Beckon's rows carry the visitor id, inside the token; the
	// baseline's the token): visitors of earlier runs still on the site do not count.
	mine := make(map[string]bool, len(tokens))
	for _, tok := range tokens {
		mine[tok] = true
		if parts := strings.Split(tok, "."); len(parts) == 5 {
			mine[parts[2]] = true
		}
	}
	rec := newRecorder(o.watchers * int(o.rate*o.duration.Seconds()*1.2+100))
	var mu sync.Mutex
	seen := map[string]bool{} // watcher|title
	rows := map[int]map[string]bool{}
	var frames, rowsIn int64
	measuring := false
	snapshotDone := make(chan struct{})
	var snapOnce sync.Once
	var askedAt time.Time
	socks := make([]*sock, o.watchers)
	defer func() { closeAll(socks) }()
	for j := 0; j < o.watchers; j++ {
		s, err := t.repSocket(sctx, j, j)
		if err != nil {
			return res, fmt.Errorf("%s: rep socket %d: %w", t.Name, j, err)
		}
		socks[j] = s
		j := j
		rows[j] = map[string]bool{}
		s.onFrame(func(f *frame, at time.Time) {
			if f.T != "live" {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if measuring {
				frames++
				rowsIn += int64(len(f.Visitors))
			}
			for _, r := range f.Visitors {
				if f.Op == "remove" {
					delete(rows[j], r.ID)
				} else if mine[r.ID] {
					rows[j][r.ID] = true
				}
				ns, ok := liveStamp(r.PageTitle)
				if !ok || ns < began.UnixNano() {
					continue // not a change of this run (a visitor of an earlier run still on the site)
				}
				key := strconv.Itoa(j) + "|" + r.PageTitle
				if !seen[key] {
					seen[key] = true
					rec.add(at, at.Sub(time.Unix(0, ns)))
				}
			}
			if j == 0 && len(rows[0]) >= o.visitors {
				snapOnce.Do(func() { close(snapshotDone) })
			}
		})
		if j == 0 {
			askedAt = time.Now() // the snapshot timed is watcher 0's
		}
		if err := s.send(sctx, map[string]any{"t": "live", "on": true}); err != nil {
			return res, err
		}
	}
	if t.Name == "baseline" {
		snapOnce.Do(func() { close(snapshotDone) }) // the baseline keeps no list of visitors
	}
	select {
	case <-snapshotDone:
		res.SnapshotMs = float64(time.Since(askedAt).Microseconds()) / 1000
		mu.Lock()
		res.SnapshotRows = len(rows[0])
		mu.Unlock()
	case <-time.After(30 * time.Second):
		mu.Lock()
		n := len(rows[0])
		mu.Unlock()
		return res, fmt.Errorf("%s: the first watcher had %d of %d visitors after 30 s", t.Name, n, o.visitors)
	}
	res.SetupSeconds = round1(time.Since(began).Seconds())
	progress("%s: %d visitors, %d watchers, snapshot in %.0f ms; measuring for %s", t.Name, o.visitors, o.watchers, res.SnapshotMs, o.duration)

	cpu0, cpuOK := t.cpu()
	mu.Lock()
	measuring = true
	mu.Unlock()
	start := time.Now()
	rec.begin(start)
	jobs := make(chan int, 64)
	posts := newRecorder(int(o.rate*o.duration.Seconds()*1.2 + 100))
	posts.begin(start)
	var wg sync.WaitGroup
	var failed int64
	var fmu sync.Mutex
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				i := k % o.visitors
				// Timed from when the change was due, not when a worker got to it: a server that
				// falls behind shows as latency, not as a lower rate.
				due := start.Add(time.Duration(float64(k) / o.rate * float64(time.Second)))
				title := fmt.Sprintf("t=%d v=%d", due.UnixNano(), i)
				if err := t.page(ctx, i, tokens[i], fmt.Sprintf("%s/docs/%d", t.Origin, k), title); err != nil {
					fmu.Lock()
					failed++
					fmu.Unlock()
					continue
				}
				posts.add(due, time.Since(due))
			}
		}()
	}
	res.Changes = pace(ctx, o.rate, int(o.rate*o.duration.Seconds())+1, o.duration, jobs)
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	mu.Lock()
	fr, rw := frames, rowsIn // the rate of the measured phase, not of the wait below
	mu.Unlock()
	// Rows of the last changes may still be on their way (Beckon coalesces for up to 250 ms).
	waitFor(ctx, 3*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= (res.Changes-int(failed))*o.watchers
	})
	mu.Lock()
	measuring = false
	res.Seen = len(seen)
	mu.Unlock()
	if cpu1, ok := t.cpu(); ok && cpuOK {
		res.ServerCPUMs = (cpu1 - cpu0).Milliseconds()
	}
	if failed > 0 {
		return res, fmt.Errorf("%s: %d page changes failed", t.Name, failed)
	}
	res.SeenShare = round1(float64(res.Seen) * 1000 / float64(max(1, res.Changes*o.watchers)) / 10)
	res.ChangeRate = round1(float64(res.Changes) / elapsed.Seconds())
	res.Latency, res.Post = rec.summary(), posts.summary()
	res.MaxBySecond = rec.maxBySecond()
	res.FramesPerSecond = round1(float64(fr) / float64(o.watchers) / elapsed.Seconds())
	res.RowsPerSecond = round1(float64(rw) / float64(o.watchers) / elapsed.Seconds())
	return res, nil
}

// liveStamp reads the send time from a title "t=<unix nanos> v=<visitor>".
func liveStamp(title string) (int64, bool) {
	rest, ok := strings.CutPrefix(title, "t=")
	if !ok {
		return 0, false
	}
	num, _, _ := strings.Cut(rest, " ")
	ns, err := strconv.ParseInt(num, 10, 64)
	if err != nil || ns <= 0 {
		return 0, false
	}
	return ns, true
}

// page records visitor i's move to another page (POST /m/v1/page).
func (t *target) page(ctx context.Context, i int, token, url, title string) error {
	body, _ := json.Marshal(map[string]string{"url": url, "title": title})
	req, _ := http.NewRequestWithContext(ctx, "POST", t.URL+"/m/v1/page", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Origin", t.Origin)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Forwarded-For", visitorIP(i))
	resp, err := t.d.client(i).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("page: %d", resp.StatusCode)
	}
	return nil
}
