package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// chatOpts are the chat scenario's flags.
type chatOpts struct {
	sockFlags
	visitors, reps, messages int
	rate, openRate           float64
	drain                    time.Duration
}

// chatResult is one side's figures in the chat scenario.
type chatResult struct {
	Sockets      int     `json:"sockets"` // open when the measured phase began
	Visitors     int     `json:"visitors"`
	Reps         int     `json:"reps"`
	SetupSeconds float64 `json:"setup_s"`
	Sent         int     `json:"sent"`     // messages written to visitor sockets in the measured phase
	Acked        int     `json:"acked"`    // of them, acknowledged
	Refused      int     `json:"refused"`  // answered with an error frame
	Received     int     `json:"received"` // distinct messages the accepting rep received
	Lost         int     `json:"lost"`     // sent, not refused, never received
	Duplicates   int     `json:"duplicates"`
	OfferedRate  float64 `json:"offered_msgs_per_s"`
	SentRate     float64 `json:"sent_msgs_per_s"`
	// Latency is from the visitor's write of a message to the accepting rep's read of it.
	Latency      quantiles      `json:"publish_to_receive"`
	AckLatency   quantiles      `json:"send_to_ack"`
	ErrorFrames  map[string]int `json:"error_frames,omitempty"`
	ClosedDuring int            `json:"sockets_closed_during_run"`
	FirstClose   string         `json:"first_close,omitempty"`
	FirstError   string         `json:"first_error,omitempty"`
	// ServerCPUms is the CPU time the server's process used in the measured phase (when its
	// process is known); CPUusPerMsg divides it by the messages sent.
	ServerCPUms float64 `json:"server_cpu_ms,omitempty"`
	CPUusPerMsg float64 `json:"server_cpu_us_per_msg,omitempty"`
	LoadAvg     string  `json:"loadavg_1m_at_start"`
	// MaxBySecond is the slowest delivery of the messages sent in each second of the phase.
	MaxBySecond []float64 `json:"max_ms_by_second"`
}

func cmdChat(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("beckon-load chat", flag.ContinueOnError)
	var o chatOpts
	o.bind(fs)
	fs.IntVar(&o.visitors, "visitors", 1000, "visitors, each with a socket and a conversation")
	fs.IntVar(&o.reps, "reps", 20, "reps, each with a socket; visitor i's conversation is accepted by rep i mod reps")
	fs.Float64Var(&o.rate, "rate", 200, "messages a second, all visitors together, in the measured phase (at most one a second per visitor: Beckon's messenger limit is 60 a minute)")
	fs.Float64Var(&o.openRate, "open-rate", 100, "in the setup, conversations opened (and accepted) a second")
	fs.IntVar(&o.messages, "messages", 20_000, "at most this many messages in the measured phase")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "after the last send, wait at most this long for deliveries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.visitors < 1 || o.visitors > 50_000 || o.reps < 1 || o.reps > 1000 {
		return errors.New("-visitors must be in [1, 50000] and -reps in [1, 1000]")
	}
	// Beckon lets a visitor send 60 messages a minute (after a burst of 30), over all its sockets.
	if o.rate <= 0 || o.rate > float64(o.visitors) || o.openRate <= 0 || o.messages < 1 || o.messages > 1_000_000 || o.drain <= 0 || o.drain > time.Minute {
		return errors.New("-rate must be positive and at most one a second per visitor (-visitors), -open-rate positive, -messages in [1, 1000000], -drain in (0, 1m]")
	}
	sd, err := runSides(ctx, &o.sockFlags, o.reps, func(ctx context.Context, t *target) (chatResult, error) { return runChat(ctx, t, o) })
	if err != nil {
		return err
	}
	beckon, base := sd.Beckon, sd.Baseline
	res := sd.report(map[string]any{
		"scenario": "chat", "visitors": o.visitors, "reps": o.reps, "rate": o.rate, "duration_s": o.duration.Seconds(),
		"beckon": beckon, "baseline": base,
		"p99_ratio":    ratio(beckon.Latency.P99ms, base.Latency.P99ms),
		"p50_ratio":    ratio(beckon.Latency.P50ms, base.Latency.P50ms),
		"target":       "beckon p99 ≤ 3 × baseline p99, nothing lost",
		"meets_target": beckon.Latency.N > 0 && base.Latency.N > 0 && beckon.Latency.P99ms <= 3*base.Latency.P99ms && beckon.Lost == 0,
		"baseline_is":  "a bare coder/websocket server in a " + o.baseline + " process relaying each send to the conversation's followers (ack to the sender, msg to the rep): no storage, no auth, no bus",
	})
	return writeJSON(out, res)
}

func addErr(m map[string]any, k string, err error) {
	if err != nil {
		m[k] = err.Error()
	}
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runChat sets up o.visitors visitors with a conversation each, accepted by o.reps reps, then
// sends messages from the visitors at o.rate and measures when the reps receive them.
func runChat(ctx context.Context, t *target, o chatOpts) (res chatResult, err error) {
	res.Visitors, res.Reps = o.visitors, o.reps
	began := time.Now()
	sctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	defer cancel()
	tokens, err := t.hellos(sctx, o.visitors, o.par)
	if err != nil {
		return res, err
	}
	reps := make([]*sock, o.reps)
	var all []*sock
	defer func() { closeAll(all) }()
	var allMu sync.Mutex
	keep := func(s *sock) {
		allMu.Lock()
		all = append(all, s)
		allMu.Unlock()
	}
	if n, err := forEach(sctx, o.reps, o.par, func(ctx context.Context, j int) error {
		s, err := t.repSocket(ctx, o.visitors+j, j)
		if err == nil {
			reps[j] = s
			keep(s)
		}
		return err
	}); n > 0 {
		return res, fmt.Errorf("%s: %d rep sockets failed: %w", t.Name, n, err)
	}
	visitors := make([]*sock, o.visitors)
	convs := make([]string, o.visitors)
	// Conversations open at a bounded rate: each one alerts every rep socket, and a burst of
	// thousands at once is not what the scenario measures.
	opening := newPacer(o.openRate)
	if n, err := forEach(sctx, o.visitors, o.par, func(ctx context.Context, i int) error {
		s, _, err := t.visitorSocket(ctx, i, tokens[i])
		if err != nil {
			return err
		}
		visitors[i] = s
		keep(s)
		id := "s" + strconv.Itoa(i)
		if err := opening.wait(ctx); err != nil {
			return err
		}
		ack, err := s.request(ctx, map[string]string{"t": "send", "id": id, "text": fmt.Sprintf("Hello, I am load visitor %d.", i)}, answers(id))
		if err != nil {
			return fmt.Errorf("visitor %d first message: %w", i, err)
		}
		if ack.T != "ack" || ack.ConvID == "" {
			return fmt.Errorf("visitor %d first message: %s %s %s", i, ack.T, ack.Code, ack.Message)
		}
		convs[i] = ack.ConvID
		return nil
	}); n > 0 {
		return res, fmt.Errorf("%s: %d visitors failed: %w", t.Name, n, err)
	}
	if err := allOpen("rep", reps); err != nil {
		return res, fmt.Errorf("%s: while the visitors opened their conversations: %w", t.Name, err)
	}
	// Rep i mod M accepts visitor i's conversation and follows it; the first message arriving on
	// the rep's socket proves the subscription. Accepts are REST calls that write; fewer at once.
	accepting := newPacer(o.openRate)
	if n, err := forEach(sctx, o.visitors, min(o.par, 16), func(ctx context.Context, i int) error {
		j := i % o.reps
		conv := convs[i]
		if err := accepting.wait(ctx); err != nil {
			return err
		}
		w := reps[j].expect(func(f *frame) bool { return f.T == "msg" && f.ConvID == conv })
		if err := t.accept(ctx, j, conv); err != nil {
			return err
		}
		if err := reps[j].send(ctx, map[string]any{"t": "sub", "conv": conv, "after": 0}); err != nil {
			return err
		}
		if _, err := reps[j].await(ctx, w); err != nil {
			return fmt.Errorf("rep %d following %s: %w", j, conv, err)
		}
		return nil
	}); n > 0 {
		return res, fmt.Errorf("%s: %d accepts failed: %w", t.Name, n, err)
	}
	if err := allOpen("rep", reps); err != nil {
		return res, fmt.Errorf("%s: while the reps accepted: %w", t.Name, err)
	}
	res.SetupSeconds = round1(time.Since(began).Seconds())
	for _, s := range all {
		if !s.closed() {
			res.Sockets++
		}
	}
	progress("%s: set up %d sockets in %.1fs; measuring for %s", t.Name, res.Sockets, res.SetupSeconds, o.duration)

	// The measured phase.
	const (
		sent    = 1
		acked   = 2
		refused = 4
	)
	state := make([]atomic.Uint32, o.messages)
	recv := make([]atomic.Uint32, o.messages)
	lat, ackLat := newRecorder(1_000_000), newRecorder(1_000_000)
	var codesMu sync.Mutex
	codes := map[string]int{}
	for _, s := range reps {
		s.onFrame(func(f *frame, at time.Time) {
			if f.T != "msg" || f.Author != "visitor" {
				return
			}
			ns, k, ok := parseStamp(f.Text, "t=")
			if !ok || k >= len(recv) {
				return
			}
			recv[k].Add(1)
			sentAt := time.Unix(0, ns)
			lat.add(sentAt, at.Sub(sentAt))
		})
	}
	for _, s := range visitors {
		s.onFrame(func(f *frame, at time.Time) {
			if f.T != "ack" && f.T != "error" {
				return
			}
			k, ns, ok := parseID(f.ID, "m")
			if f.T == "error" {
				codesMu.Lock()
				codes[f.Code]++
				codesMu.Unlock()
			}
			if !ok || k >= len(state) {
				return
			}
			if f.T == "ack" {
				state[k].Or(acked)
				sentAt := time.Unix(0, ns)
				ackLat.add(sentAt, at.Sub(sentAt))
			} else {
				state[k].Or(refused)
			}
		})
	}
	var sendErrs atomic.Int64
	var firstSendErr atomic.Value
	jobs := make(chan int, 1024)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				i := k % o.visitors
				ns := time.Now().UnixNano()
				err := visitors[i].send(ctx, map[string]string{"t": "send", "id": fmt.Sprintf("m%d.%d", k, ns), "conv": convs[i],
					"text": fmt.Sprintf("t=%d k=%d Could someone tell me about pricing for teams?", ns, k)})
				if err != nil {
					sendErrs.Add(1)
					firstSendErr.CompareAndSwap(nil, err.Error())
					continue
				}
				state[k].Or(sent)
			}
		}()
	}
	res.LoadAvg = loadAvg()
	cpu0, cpuOK := t.cpu()
	start := time.Now()
	lat.begin(start)
	n := pace(ctx, o.rate, o.messages, o.duration, jobs)
	close(jobs)
	wg.Wait()
	sendTime := time.Since(start)
	res.OfferedRate, res.SentRate = o.rate, round1(float64(n)/sendTime.Seconds())

	// Wait for what is still on its way, at most o.drain.
	count := func() (sentN, ackN, refN, got, lost, dup int) {
		for k := 0; k < n; k++ {
			st, rc := state[k].Load(), int(recv[k].Load())
			if st&sent == 0 {
				continue
			}
			sentN++
			if st&acked != 0 {
				ackN++
			}
			if st&refused != 0 {
				refN++
			}
			if rc > 0 {
				got++
				dup += rc - 1
			} else if st&refused == 0 {
				lost++
			}
		}
		return
	}
	waitFor(ctx, o.drain, func() bool { _, _, _, _, lost, _ := count(); return lost == 0 })
	res.Sent, res.Acked, res.Refused, res.Received, res.Lost, res.Duplicates = count()
	if cpu1, ok := t.cpu(); ok && cpuOK && res.Sent > 0 {
		res.ServerCPUms = float64((cpu1 - cpu0).Milliseconds())
		res.CPUusPerMsg = round1(res.ServerCPUms * 1000 / float64(res.Sent))
	}
	res.Latency, res.AckLatency = lat.summary(), ackLat.summary()
	res.MaxBySecond = lat.maxBySecond()
	if len(codes) > 0 {
		res.ErrorFrames = codes
	}
	for _, s := range all {
		if s.closed() {
			res.ClosedDuring++
			if res.FirstClose == "" {
				res.FirstClose = closeReason(s.endErr)
			}
		}
	}
	if e, ok := firstSendErr.Load().(string); ok {
		res.FirstError = e
	}
	return res, nil
}

// pace hands out message numbers 0, 1, … on jobs at rate a second, until limit numbers, the
// duration, or ctx ends; it returns how many it handed out.
func pace(ctx context.Context, rate float64, limit int, d time.Duration, jobs chan<- int) int {
	start := time.Now()
	deadline := start.Add(d)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	k := 0
	for k < limit {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		due := min(limit, int(now.Sub(start).Seconds()*rate)+1)
		for ; k < due; k++ {
			select {
			case jobs <- k:
			case <-ctx.Done():
				return k
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return k
		}
	}
	return k
}

// waitFor checks done every 20 ms until it holds, d passes or ctx ends.
func waitFor(ctx context.Context, d time.Duration, done func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return done()
		case <-tick.C:
		}
	}
	return true
}

// parseStamp reads "<prefix><unix nanos> k=<k>…" from a message text.
func parseStamp(text, prefix string) (ns int64, k int, ok bool) {
	rest, found := strings.CutPrefix(text, prefix)
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, " k=")
	if !found {
		return 0, 0, false
	}
	ns, err := strconv.ParseInt(a, 10, 64)
	if err != nil || ns <= 0 {
		return 0, 0, false
	}
	if sp := strings.IndexByte(b, ' '); sp >= 0 {
		b = b[:sp]
	}
	k, err = strconv.Atoi(b)
	if err != nil || k < 0 {
		return 0, 0, false
	}
	return ns, k, true
}

// parseID reads a client id "<prefix><k>.<unix nanos>".
func parseID(id, prefix string) (k int, ns int64, ok bool) {
	rest, found := strings.CutPrefix(id, prefix)
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, ".")
	if !found {
		return 0, 0, false
	}
	k, err := strconv.Atoi(a)
	if err != nil || k < 0 {
		return 0, 0, false
	}
	ns, err = strconv.ParseInt(b, 10, 64)
	if err != nil || ns <= 0 {
		return 0, 0, false
	}
	return k, ns, true
}

// allOpen returns an error naming how many of the sockets have ended, and how the first did.
func allOpen(what string, socks []*sock) error {
	n, first := 0, ""
	for _, s := range socks {
		if s != nil && s.closed() {
			if n == 0 {
				first = closeReason(s.endErr)
			}
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%d of %d %s sockets ended, the first with %s", n, len(socks), what, first)
	}
	return nil
}

// closeAll closes sockets, 256 at a time.
func closeAll(socks []*sock) {
	forEach(context.Background(), len(socks), 256, func(_ context.Context, i int) error {
		socks[i].close()
		return nil
	})
}
