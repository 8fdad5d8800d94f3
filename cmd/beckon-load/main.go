// Command beckon-load drives a running Beckon server on loopback with a bounded load and reports
// throughput, latency or memory as JSON. Every scenario also runs a baseline on loopback in the
// same run, driven the same way, so the figures read as a ratio rather than as numbers of a
// shared, noisy machine: a plain net/http handler for pageviews, a bare WebSocket server
// (coder/websocket, speaking the frames of docs/REALTIME.md without storage) for the sockets.
//
//	beckon-load pageviews --target http://127.0.0.1:8080 --site SITE_ID --origin http://127.0.0.1:8081 \
//	    --visitors 5000 --duration 10s --concurrency 32 [--keepalive=false]
//	beckon-load setup -beckon /tmp/beckon -data /tmp/load -reps 100
//	beckon-load chat   -data /tmp/load -start /tmp/beckon -visitors 1000 -reps 20 -rate 200
//	beckon-load fanout -data /tmp/load -start /tmp/beckon -subscribers 100 -senders 10
//	beckon-load idle   -data /tmp/load -start /tmp/beckon -sockets 10000
//
// With --demo DIR pageviews reads the target, site id and origin from DIR/demo.json. setup
// prepares a data folder with the beckon binary's own operator commands (a workspace, reps with
// passwords); the socket scenarios read it with -data and, with -start, run `beckon serve` over it
// themselves. docs/PERFORMANCE.md has the commands and figures.
//
// Real visitors come from many addresses, and Beckon limits requests per client IP. Each virtual
// visitor therefore names an address of its own from the benchmarking range 198.18.0.0/15 in
// X-Forwarded-For (a header value only: all traffic goes to the loopback target); start the server
// under test with BECKON_TRUSTED_PROXIES=127.0.0.1 so that it believes them.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "beckon-load:", err)
		os.Exit(2)
	}
}

type options struct {
	target, site, origin  string
	visitors, concurrency int
	duration              time.Duration
	keepalive             bool
	maxRequests           int
}

const usage = `usage: beckon-load <scenario> [flags]   (run 'beckon-load <scenario> -h')

  pageviews        POST /m/v1/page from many visitors, against a bare net/http handler
  setup            prepare a data folder for the socket scenarios (workspace, site, reps)
  chat             visitors' messages to the reps who accepted them: latency at N sockets
  fanout           one conversation followed by many sockets: deliveries a second
  idle             N idle visitor sockets: server memory per socket
  liveview         N visitors browsing while reps watch Live View: page change to row latency
  baseline-server  the bare WebSocket baseline alone (the socket scenarios start it themselves)`

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "pageviews":
		return cmdPageviews(ctx, args[1:], out)
	case "setup":
		return cmdSetup(ctx, args[1:], out)
	case "chat":
		return cmdChat(ctx, args[1:], out)
	case "fanout":
		return cmdFanout(ctx, args[1:], out)
	case "idle":
		return cmdIdle(ctx, args[1:], out)
	case "liveview":
		return cmdLiveView(ctx, args[1:], out)
	case "baseline-server":
		return cmdBaselineServer(ctx, args[1:], out)
	}
	return errors.New(usage)
}

// cmdPageviews is the pageviews scenario.
func cmdPageviews(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("beckon-load pageviews", flag.ContinueOnError)
	var o options
	demo := fs.String("demo", "", "a demo data folder: read target, site id and origin from its demo.json")
	fs.StringVar(&o.target, "target", "http://127.0.0.1:8080", "the Beckon server (loopback only)")
	fs.StringVar(&o.site, "site", "", "the workspace's site id")
	fs.StringVar(&o.origin, "origin", "", "an allowed origin of the workspace, sent as Origin")
	fs.IntVar(&o.visitors, "visitors", 5000, "distinct visitors (each starts with hello, then sends page views)")
	fs.IntVar(&o.concurrency, "concurrency", 32, "requests in flight")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each measured phase runs (at most 5m)")
	fs.IntVar(&o.maxRequests, "max-requests", 1_000_000, "stop a phase after this many requests")
	fs.BoolVar(&o.keepalive, "keepalive", true, "reuse connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *demo != "" {
		var d struct {
			ConsoleURL string `json:"console_url"`
			SiteURL    string `json:"site_url"`
			SiteID     string `json:"site_id"`
		}
		b, err := os.ReadFile(filepath.Join(*demo, "demo.json"))
		if err == nil {
			err = json.Unmarshal(b, &d)
		}
		if err != nil {
			return fmt.Errorf("--demo: %w", err)
		}
		o.target, o.origin, o.site = d.ConsoleURL, d.SiteURL, d.SiteID
	}
	if err := o.check(); err != nil {
		return err
	}
	client := newClient(o)

	// The baseline: a bare handler that reads the JSON body and answers 204, like a page view.
	base, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bsrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&v)
		w.WriteHeader(http.StatusNoContent)
	})}
	go bsrv.Serve(base)
	defer bsrv.Close()

	tokens, err := hellos(ctx, client, o)
	if err != nil {
		return err
	}
	beckon := phase(ctx, o, func(i int) error {
		return post(ctx, client, o, o.target+"/m/v1/page", tokens[i%len(tokens)], i%len(tokens),
			map[string]string{"url": fmt.Sprintf("%s/docs/page-%d", o.origin, i%50), "title": "Docs", "referrer": ""})
	})
	baseline := phase(ctx, o, func(i int) error {
		return post(ctx, client, o, "http://"+base.Addr().String()+"/m/v1/page", "x", i%len(tokens),
			map[string]string{"url": fmt.Sprintf("%s/docs/page-%d", o.origin, i%50), "title": "Docs", "referrer": ""})
	})
	res := map[string]any{
		"scenario": "pageviews", "keepalive": o.keepalive, "concurrency": o.concurrency, "visitors": len(tokens),
		"duration_s": o.duration.Seconds(), "beckon": beckon, "baseline": baseline,
		"rps_ratio":     ratio(beckon.RPS, baseline.RPS),
		"p99_ratio":     ratio(beckon.P99ms, baseline.P99ms),
		"p50_ratio":     ratio(beckon.P50ms, baseline.P50ms),
		"beckon_errors": beckon.Errors,
		"generated_at":  time.Now().UTC().Format(time.RFC3339),
		"note":          "ratios are beckon/baseline: rps below 1 and latency above 1 are Beckon's cost over a bare net/http handler",
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// check refuses anything but loopback targets and bounded runs.
func (o options) check() error {
	u, err := url.Parse(o.target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--target %q is not a URL", o.target)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--target must be on this machine's loopback (127.0.0.0/8, ::1 or localhost), not %s", u.Hostname())
	}
	if o.site == "" || o.origin == "" {
		return errors.New("--site and --origin are required (or --demo DIR)")
	}
	if o.duration <= 0 || o.duration > 5*time.Minute || o.concurrency < 1 || o.concurrency > 1024 || o.visitors < 1 || o.visitors > 100_000 {
		return errors.New("--duration must be in (0, 5m], --concurrency in [1, 1024], --visitors in [1, 100000]")
	}
	return nil
}

func newClient(o options) *http.Client {
	tr := &http.Transport{MaxIdleConns: o.concurrency * 2, MaxIdleConnsPerHost: o.concurrency * 2, DisableKeepAlives: !o.keepalive,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// hellos opens the visitors: one hello each, with a distinct desktop browser user agent.
func hellos(ctx context.Context, client *http.Client, o options) ([]string, error) {
	tokens := make([]string, 0, o.visitors)
	var mu sync.Mutex
	sem := make(chan struct{}, min(o.concurrency, 16))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := 0; i < o.visitors; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			body, _ := json.Marshal(map[string]any{"site_id": o.site, "page": map[string]string{"url": fmt.Sprintf("%s/?utm_source=load&v=%d", o.origin, i), "title": "Home"},
				"time_zone": "Europe/Berlin", "language": "en-GB"})
			req, _ := http.NewRequestWithContext(ctx, "POST", o.target+"/m/v1/hello", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", o.origin)
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36 beckon-load")
			req.Header.Set("X-Forwarded-For", visitorIP(i))
			resp, err := client.Do(req)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer resp.Body.Close()
			var r struct {
				VisitorToken string `json:"visitor_token"`
			}
			if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&r) != nil || r.VisitorToken == "" {
				b, _ := io.ReadAll(resp.Body)
				firstErr.CompareAndSwap(nil, fmt.Errorf("hello: %d %s", resp.StatusCode, b))
				return
			}
			mu.Lock()
			tokens = append(tokens, r.VisitorToken)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok && len(tokens) == 0 {
		return nil, e
	}
	return tokens, nil
}

// visitorIP is virtual visitor i's address, in the benchmarking range 198.18.0.0/15.
func visitorIP(i int) string { return fmt.Sprintf("198.%d.%d.%d", 18+(i>>16)&1, (i>>8)&255, i&255) }

func post(ctx context.Context, client *http.Client, o options, u, token string, visitor int, v any) error {
	body, _ := json.Marshal(v)
	req, _ := http.NewRequestWithContext(ctx, "POST", u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", visitorIP(visitor))
	req.Header.Set("Origin", o.origin)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// result is one measured phase.
type result struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	P999ms   float64 `json:"p999_ms"`
	FirstErr string  `json:"first_error,omitempty"`
}

// phase runs do from o.concurrency goroutines for o.duration or o.maxRequests requests.
func phase(ctx context.Context, o options, do func(i int) error) result {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var n, errCount atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, o.concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(n.Add(1))
				if i > o.maxRequests {
					return
				}
				t0 := time.Now()
				err := do(i)
				if ctx.Err() != nil {
					return // cut off by the end of the phase: not counted
				}
				if err != nil {
					errCount.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	q := summarise(all)
	r := result{Requests: len(all), Errors: int(errCount.Load()), RPS: float64(int(float64(len(all))/elapsed.Seconds()*10)) / 10,
		P50ms: q.P50ms, P99ms: q.P99ms, P999ms: q.P999ms}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstErr = strings.TrimSpace(s)
	}
	return r
}
