package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"
)

// idleOpts are the idle scenario's flags.
type idleOpts struct {
	sockFlags
	sockets int
	settle  time.Duration
}

// idleResult is one side's figures in the idle scenario.
type idleResult struct {
	Sockets      int        `json:"sockets"` // open at the second reading
	SetupSeconds float64    `json:"setup_s"`
	Before       memReading `json:"before"`
	After        memReading `json:"after"`
	// RSSPerSocket is the growth of the resident set over the sockets, in bytes; HeapStackPerSocket
	// the growth of the Go heap and stacks in use.
	RSSPerSocket       int64  `json:"rss_bytes_per_socket"`
	HeapStackPerSocket int64  `json:"heap_stack_bytes_per_socket,omitempty"`
	GoroutinesPerSock  string `json:"goroutines_per_socket,omitempty"`
	FirstClose         string `json:"first_close,omitempty"`
}

// idleTarget is the goal per socket: 20 KiB.
const idleTarget = 20 << 10

func cmdIdle(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("beckon-load idle", flag.ContinueOnError)
	var o idleOpts
	o.bind(fs)
	fs.IntVar(&o.sockets, "sockets", 10_000, "idle visitor sockets to open (each authenticated, nothing else)")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "wait this long after the last socket opened before reading memory (at most 1m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.sockets < 1 || o.sockets > 100_000 || o.settle < 0 || o.settle > time.Minute {
		return errors.New("-sockets must be in [1, 100000] and -settle in [0, 1m]")
	}
	if o.baseline != "child" {
		return errors.New("idle measures the baseline's memory in a process of its own: use -baseline child")
	}
	sd, err := runSides(ctx, &o.sockFlags, 0, func(ctx context.Context, t *target) (idleResult, error) { return runIdle(ctx, t, o) })
	if err != nil {
		return err
	}
	beckon, base := sd.Beckon, sd.Baseline
	res := sd.report(map[string]any{
		"scenario": "idle", "sockets": o.sockets, "beckon": beckon, "baseline": base,
		"rss_ratio":    ratio(float64(beckon.RSSPerSocket), float64(base.RSSPerSocket)),
		"target":       fmt.Sprintf("beckon ≤ %d bytes (20 KiB) of RSS per idle socket", idleTarget),
		"meets_target": sd.BeckonErr == nil && beckon.Sockets == o.sockets && beckon.RSSPerSocket <= idleTarget,
		"baseline_is":  "a bare coder/websocket server in a child process (per idle socket: the handler's goroutine reading, no writer goroutine until something is queued), its RSS read from /proc like Beckon's",
	})
	return writeJSON(out, res)
}

// runIdle reads the server's memory, opens o.sockets authenticated visitor sockets, waits
// o.settle, reads it again, and divides.
func runIdle(ctx context.Context, t *target, o idleOpts) (res idleResult, err error) {
	began := time.Now()
	sctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	defer cancel()
	tokens, err := t.hellos(sctx, o.sockets, o.par)
	if err != nil {
		return res, err
	}
	// Let the hellos' work (batched writes) finish before the first reading.
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if res.Before, err = t.mem(sctx); err != nil {
		return res, err
	}
	socks := make([]*sock, o.sockets)
	defer func() {
		var open []*sock
		for _, s := range socks {
			if s != nil {
				open = append(open, s)
			}
		}
		closeAll(open)
	}()
	var mu sync.Mutex
	if n, err := forEach(sctx, o.sockets, o.par, func(ctx context.Context, i int) error {
		s, _, err := t.visitorSocket(ctx, i, tokens[i])
		if err == nil {
			mu.Lock()
			socks[i] = s
			mu.Unlock()
		}
		return err
	}); n > 0 {
		return res, fmt.Errorf("%s: %d of %d sockets failed: %w", t.Name, n, o.sockets, err)
	}
	res.SetupSeconds = round1(time.Since(began).Seconds())
	progress("%s: %d sockets open after %.1fs; reading memory in %s", t.Name, o.sockets, res.SetupSeconds, o.settle)
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if res.After, err = t.mem(sctx); err != nil {
		return res, err
	}
	for _, s := range socks {
		if !s.closed() {
			res.Sockets++
		} else if res.FirstClose == "" {
			res.FirstClose = closeReason(s.endErr)
		}
	}
	if res.Sockets == 0 {
		return res, errors.New("every socket closed before the reading")
	}
	res.RSSPerSocket = (res.After.RSS - res.Before.RSS) / int64(res.Sockets)
	if res.After.HeapInuse > 0 {
		res.HeapStackPerSocket = (res.After.HeapInuse + res.After.StackInuse - res.Before.HeapInuse - res.Before.StackInuse) / int64(res.Sockets)
	}
	if res.After.Goroutines > 0 {
		res.GoroutinesPerSock = fmt.Sprintf("%.2f", float64(res.After.Goroutines-res.Before.Goroutines)/float64(res.Sockets))
	}
	return res, nil
}
