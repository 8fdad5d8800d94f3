package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// fanoutOpts are the fanout scenario's flags.
type fanoutOpts struct {
	sockFlags
	subscribers, senders, messages, reps int
	senderRate                           float64
	drain                                time.Duration
}

// fanoutResult is one side's figures in the fanout scenario.
type fanoutResult struct {
	Subscribers  int     `json:"subscribers"` // sockets following the conversation
	Senders      int     `json:"senders"`
	SetupSeconds float64 `json:"setup_s"`
	Acked        int     `json:"acked"`
	Refused      int     `json:"refused"` // error frames answering a send (retried after 200 ms)
	Deliveries   int     `json:"deliveries"`
	Expected     int     `json:"expected"` // acked × subscribers
	Seconds      float64 `json:"seconds"`  // first send to last delivery
	// DeliveriesPerS is deliveries over Seconds; AckedPerS the messages stored a second.
	DeliveriesPerS float64        `json:"deliveries_per_s"`
	AckedPerS      float64        `json:"acked_msgs_per_s"`
	Latency        quantiles      `json:"publish_to_receive"`
	ErrorFrames    map[string]int `json:"error_frames,omitempty"`
	ClosedDuring   int            `json:"sockets_closed_during_run"`
	FirstClose     string         `json:"first_close,omitempty"`
	FirstError     string         `json:"first_error,omitempty"`
	// ServerCPUms is the CPU time the server's process used from the first send to the end of
	// the drain (when its process is known); CPUusPerDelivery divides it by the deliveries.
	ServerCPUms      float64 `json:"server_cpu_ms,omitempty"`
	CPUusPerDelivery float64 `json:"server_cpu_us_per_delivery,omitempty"`
	LoadAvg          string  `json:"loadavg_1m_at_start"`
	// MaxBySecond is the slowest delivery of the messages sent in each second of the phase.
	MaxBySecond []float64 `json:"max_ms_by_second"`
}

func cmdFanout(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("beckon-load fanout", flag.ContinueOnError)
	var o fanoutOpts
	o.bind(fs)
	fs.IntVar(&o.subscribers, "subscribers", 100, "sockets following the one conversation: the visitor's and subscribers-1 reps'")
	fs.IntVar(&o.reps, "reps", 99, "rep users behind the rep sockets (round-robin, like several console tabs, when fewer than subscribers-1)")
	fs.IntVar(&o.senders, "senders", 10, "sockets of the rep who accepted the conversation that send, each waiting for its ack before the next message")
	fs.Float64Var(&o.senderRate, "sender-rate", 10, "at most this many messages a second per sending socket (Beckon allows 10/s, burst 20); 0 for acks only")
	fs.IntVar(&o.messages, "messages", 2000, "messages to send, all senders together")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "after the last ack, wait at most this long for deliveries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.subscribers < 2 || o.subscribers > 10_000 || o.senders < 1 || o.senders > 1000 || o.messages < 1 || o.messages > 1_000_000 ||
		o.reps < 1 || o.reps > 1000 || o.senderRate < 0 || o.drain <= 0 || o.drain > time.Minute {
		return errors.New("-subscribers in [2, 10000], -senders in [1, 1000], -messages in [1, 1000000], -reps in [1, 1000], -sender-rate ≥ 0, -drain in (0, 1m]")
	}
	sd, err := runSides(ctx, &o.sockFlags, min(o.reps, o.subscribers-1), func(ctx context.Context, t *target) (fanoutResult, error) { return runFanout(ctx, t, o) })
	if err != nil {
		return err
	}
	beckon, base := sd.Beckon, sd.Baseline
	res := sd.report(map[string]any{
		"scenario": "fanout", "subscribers": o.subscribers, "senders": o.senders, "sender_rate": o.senderRate, "messages": o.messages,
		"beckon": beckon, "baseline": base,
		"deliveries_ratio": ratio(beckon.DeliveriesPerS, base.DeliveriesPerS),
		"p99_ratio":        ratio(beckon.Latency.P99ms, base.Latency.P99ms),
		"baseline_is":      "a bare coder/websocket server in a " + o.baseline + " process: each send is acked and queued for every follower, whose writer goroutine runs while its queue is not empty",
	})
	return writeJSON(out, res)
}

// runFanout opens one conversation followed by o.subscribers sockets (the visitor's and reps')
// and sends o.messages into it from o.senders sockets of the rep who accepted it, each waiting
// for its ack. (A visitor may send only 60 messages a minute, a rep's socket 10 a second.)
func runFanout(ctx context.Context, t *target, o fanoutOpts) (res fanoutResult, err error) {
	began := time.Now()
	sctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	defer cancel()
	token, err := t.hello(sctx, 0)
	if err != nil {
		return res, err
	}
	var all []*sock
	var allMu sync.Mutex
	keep := func(s *sock) {
		allMu.Lock()
		all = append(all, s)
		allMu.Unlock()
	}
	defer func() { closeAll(all) }()
	// The visitor starts the conversation; its socket follows it from then on (on Beckon and the
	// baseline alike) and is the first subscriber. Rep 0 accepts it, and its sockets send.
	opener, _, err := t.visitorSocket(sctx, 0, token)
	if err != nil {
		return res, err
	}
	keep(opener)
	ack, err := opener.request(sctx, map[string]string{"t": "send", "id": "open", "text": "Hello, is anyone there?"}, answers("open"))
	if err != nil {
		return res, err
	}
	if ack.T != "ack" || ack.ConvID == "" {
		return res, fmt.Errorf("%s: first message: %s %s %s", t.Name, ack.T, ack.Code, ack.Message)
	}
	conv := ack.ConvID
	if err := t.accept(sctx, 0, conv); err != nil {
		return res, err
	}
	follows := func(f *frame) bool { return f.T == "msg" && f.ConvID == conv }
	subs := make([]*sock, o.subscribers)
	subs[0] = opener
	if n, err := forEach(sctx, o.subscribers-1, o.par, func(ctx context.Context, i int) error {
		s, err := t.repSocket(ctx, i+1, i)
		if err != nil {
			return err
		}
		keep(s)
		subs[i+1] = s
		_, err = s.request(ctx, map[string]any{"t": "sub", "conv": conv, "after": 0}, follows)
		return err
	}); n > 0 {
		return res, fmt.Errorf("%s: %d rep subscribers failed: %w", t.Name, n, err)
	}
	senders := make([]*sock, o.senders)
	if n, err := forEach(sctx, o.senders, o.par, func(ctx context.Context, i int) error {
		s, err := t.repSocket(ctx, o.subscribers+i, 0)
		if err == nil {
			keep(s)
			senders[i] = s
		}
		return err
	}); n > 0 {
		return res, fmt.Errorf("%s: %d senders failed: %w", t.Name, n, err)
	}
	res.Subscribers, res.Senders = o.subscribers, o.senders
	res.SetupSeconds = round1(time.Since(began).Seconds())
	progress("%s: set up %d subscribers and %d senders in %.1fs; measuring for at most %s", t.Name, o.subscribers, o.senders, res.SetupSeconds, o.duration)

	lat := newRecorder(2_000_000)
	var deliveries atomic.Int64
	var lastRecv atomic.Int64
	for _, s := range subs {
		s.onFrame(func(f *frame, at time.Time) {
			if f.T != "msg" || f.ConvID != conv {
				return
			}
			ns, _, ok := parseStamp(f.Text, "f=")
			if !ok {
				return
			}
			deliveries.Add(1)
			sentAt := time.Unix(0, ns)
			lat.add(sentAt, at.Sub(sentAt))
			for {
				l := lastRecv.Load()
				if at.UnixNano() <= l || lastRecv.CompareAndSwap(l, at.UnixNano()) {
					break
				}
			}
		})
	}
	var next, acked, refused atomic.Int64
	var codesMu sync.Mutex
	codes := map[string]int{}
	var firstErr atomic.Value
	pctx, pcancel := context.WithTimeout(ctx, o.duration)
	defer pcancel()
	res.LoadAvg = loadAvg()
	cpu0, cpuOK := t.cpu()
	start := time.Now()
	lat.begin(start)
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func(s *sock) {
			defer wg.Done()
			var interval time.Duration
			if o.senderRate > 0 {
				interval = time.Duration(float64(time.Second) / o.senderRate)
			}
			last := time.Time{}
			for pctx.Err() == nil {
				k := int(next.Add(1)) - 1
				if k >= o.messages {
					return
				}
				id := "f" + strconv.Itoa(k)
				for try := 0; try < 20 && pctx.Err() == nil; try++ {
					if wait := interval - time.Since(last); wait > 0 {
						select {
						case <-time.After(wait):
						case <-pctx.Done():
							return
						}
					}
					last = time.Now()
					ns := last.UnixNano()
					// The answer is awaited past the phase's end: every message sent is counted.
					actx, acancel := context.WithTimeout(ctx, 10*time.Second)
					f, err := s.request(actx, map[string]string{"t": "send", "id": id, "conv": conv,
						"text": fmt.Sprintf("f=%d k=%d An update everyone following should see.", ns, k)}, answers(id))
					acancel()
					if err != nil {
						firstErr.CompareAndSwap(nil, err.Error())
						return
					}
					if f.T == "ack" {
						acked.Add(1)
						break
					}
					refused.Add(1)
					codesMu.Lock()
					codes[f.Code]++
					codesMu.Unlock()
					if f.Code != "too_many_requests" {
						break
					}
					select {
					case <-time.After(200 * time.Millisecond):
					case <-pctx.Done():
						return
					}
				}
			}
		}(s)
	}
	wg.Wait()
	sendEnd := time.Now()
	res.Acked, res.Refused = int(acked.Load()), int(refused.Load())
	res.Expected = res.Acked * o.subscribers
	waitFor(ctx, o.drain, func() bool { return int(deliveries.Load()) >= res.Expected })
	res.Deliveries = int(deliveries.Load())
	if cpu1, ok := t.cpu(); ok && cpuOK && res.Deliveries > 0 {
		res.ServerCPUms = float64((cpu1 - cpu0).Milliseconds())
		res.CPUusPerDelivery = round1(res.ServerCPUms * 1000 / float64(res.Deliveries))
	}
	end := time.Unix(0, lastRecv.Load())
	if end.Before(sendEnd) {
		end = sendEnd
	}
	res.Seconds = float64(int(end.Sub(start).Seconds()*100+0.5)) / 100
	if s := end.Sub(start).Seconds(); s > 0 {
		res.DeliveriesPerS = round1(float64(res.Deliveries) / s)
		res.AckedPerS = round1(float64(res.Acked) / sendEnd.Sub(start).Seconds())
	}
	res.Latency = lat.summary()
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
	if e, ok := firstErr.Load().(string); ok {
		res.FirstError = e
	}
	return res, nil
}
