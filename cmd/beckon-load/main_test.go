package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for beckon-load when a test starts the baseline in a
// child process (startBaseline runs os.Executable with "baseline-server").
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "baseline-server" {
		if err := cmdBaselineServer(context.Background(), os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func TestQuantile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(float64(i + 1)) // 1 … 100 ms
	}
	thousand := make([]time.Duration, 1000)
	for i := range thousand {
		thousand[i] = ms(float64(i + 1))
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{ms(7)}, 0.999, ms(7)},
		{"median of 100 is the 50th", hundred, 0.50, ms(50)},
		{"p99 of 100 is the 99th", hundred, 0.99, ms(99)},
		{"p99.9 of 100 is the largest", hundred, 0.999, ms(100)},
		{"p0 is the smallest", hundred, 0, ms(1)},
		{"p100 is the largest", hundred, 1, ms(100)},
		{"p99.9 of 1000 is the 999th", thousand, 0.999, ms(999)},
		{"p99 of 1000 is the 990th", thousand, 0.99, ms(990)},
		{"median of two is the first", []time.Duration{ms(1), ms(2)}, 0.5, ms(1)},
		{"p51 of two is the second", []time.Duration{ms(1), ms(2)}, 0.51, ms(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quantile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("quantile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	s := []time.Duration{ms(5), ms(1), ms(3), ms(2), ms(4)}
	q := summarise(s)
	want := quantiles{N: 5, P50ms: 3, P99ms: 5, P999ms: 5, MaxMs: 5}
	if q != want {
		t.Errorf("summarise = %+v, want %+v", q, want)
	}
	if (summarise(nil) != quantiles{}) {
		t.Errorf("summarise(nil) = %+v, want zeros", summarise(nil))
	}
	r := newRecorder(3)
	t0 := time.Unix(1000, 0)
	r.begin(t0)
	for i := 1; i <= 5; i++ {
		r.add(t0.Add(time.Duration(i)*400*time.Millisecond), ms(float64(i)))
	}
	r.add(t0.Add(-time.Second), ms(99))           // before the start: counted, not in a second
	r.add(t0.Add(maxSeconds*time.Second), ms(99)) // past the last second kept
	if r.count() != 7 || r.summary().N != 3 {
		t.Errorf("recorder kept %d of %d samples, want 3 of 7", r.summary().N, r.count())
	}
	// Sent at 0.4 0.8 | 1.2 1.6 | 2.0 s.
	if got := fmt.Sprint(r.maxBySecond()); got != "[2 4 5]" {
		t.Errorf("maxBySecond = %s, want [2 4 5]", got)
	}
}

func TestRatio(t *testing.T) {
	tests := []struct{ a, b, want float64 }{{3, 1, 3}, {1, 3, 0.33}, {2, 3, 0.67}, {5, 0, 0}, {0, 5, 0}}
	for _, tt := range tests {
		if got := ratio(tt.a, tt.b); got != tt.want {
			t.Errorf("ratio(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseStamp(t *testing.T) {
	tests := []struct {
		text, prefix string
		ns           int64
		k            int
		ok           bool
	}{
		{"t=1700000000000000000 k=42 Could someone tell me about pricing?", "t=", 1700000000000000000, 42, true},
		{"t=5 k=0", "t=", 5, 0, true},
		{"f=5 k=7 An update", "f=", 5, 7, true},
		{"f=5 k=7", "t=", 0, 0, false},
		{"t=abc k=1", "t=", 0, 0, false},
		{"t=5", "t=", 0, 0, false},
		{"t=5 k=-1", "t=", 0, 0, false},
		{"t=-5 k=1", "t=", 0, 0, false},
		{"t=0 k=1", "t=", 0, 0, false},
		{"Hello, I am load visitor 3.", "t=", 0, 0, false},
		{"", "t=", 0, 0, false},
	}
	for _, tt := range tests {
		ns, k, ok := parseStamp(tt.text, tt.prefix)
		if ns != tt.ns || k != tt.k || ok != tt.ok {
			t.Errorf("parseStamp(%q) = %d, %d, %v; want %d, %d, %v", tt.text, ns, k, ok, tt.ns, tt.k, tt.ok)
		}
	}
}

func TestParseID(t *testing.T) {
	tests := []struct {
		id   string
		k    int
		ns   int64
		ok   bool
		pref string
	}{
		{"m12.1700000000000000000", 12, 1700000000000000000, true, "m"},
		{"m0.1", 0, 1, true, "m"},
		{"s12", 0, 0, false, "m"},
		{"m12", 0, 0, false, "m"},
		{"m.5", 0, 0, false, "m"},
		{"mx.5", 0, 0, false, "m"},
		{"m3.0", 0, 0, false, "m"},
		{"", 0, 0, false, "m"},
	}
	for _, tt := range tests {
		k, ns, ok := parseID(tt.id, tt.pref)
		if k != tt.k || ns != tt.ns || ok != tt.ok {
			t.Errorf("parseID(%q) = %d, %d, %v; want %d, %d, %v", tt.id, k, ns, ok, tt.k, tt.ns, tt.ok)
		}
	}
}

func FuzzParseStamp(f *testing.F) {
	f.Add("t=1700000000000000000 k=42 hello")
	f.Add("t=5 k=")
	f.Fuzz(func(t *testing.T, s string) {
		ns, k, ok := parseStamp(s, "t=")
		if ok && (ns <= 0 || k < 0 || !strings.HasPrefix(s, "t=")) {
			t.Fatalf("parseStamp(%q) accepted %d, %d", s, ns, k)
		}
		k, ns, ok = parseID(s, "t")
		if ok && (ns <= 0 || k < 0) {
			t.Fatalf("parseID(%q) accepted %d, %d", s, k, ns)
		}
	})
}

func TestParseFrame(t *testing.T) {
	tests := []struct {
		in             string
		t, conv, id    string
		seq            int64
		wantErr, isObj bool
	}{
		{`{"t":"ack","id":"m1.5","conv":"conv_a","seq":3}`, "ack", "conv_a", "m1.5", 3, false, false},
		{`{"t":"msg","conv":"conv_b","seq":9,"id":"msg_x","author":"visitor","text":"hi"}`, "msg", "conv_b", "msg_x", 9, false, false},
		{`{"t":"conv","conv":{"id":"conv_c","status":"active"}}`, "conv", "", "", 0, false, true},
		{`{"t":"ready","visitor_id":"v","conversation":{"id":"conv_d","last_seq":2}}`, "ready", "", "", 0, false, false},
		{`{"conv":"x"}`, "", "", "", 0, true, false},
		{`[1,2]`, "", "", "", 0, true, false},
		{`not json`, "", "", "", 0, true, false},
	}
	for _, tt := range tests {
		f, err := parseFrame([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFrame(%s) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if f.T != tt.t || f.ConvID != tt.conv || f.ID != tt.id || f.Seq != tt.seq {
			t.Errorf("parseFrame(%s) = %+v", tt.in, f)
		}
		if tt.isObj && len(f.ConvRaw) == 0 {
			t.Errorf("parseFrame(%s) lost the conversation object", tt.in)
		}
	}
	if f, _ := parseFrame([]byte(`{"t":"ready","conversation":{"id":"conv_d","last_seq":2}}`)); f.Conversation == nil || f.Conversation.LastSeq != 2 {
		t.Errorf("ready frame's conversation not read: %+v", f)
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add([]byte(`{"t":"msg","conv":"conv_b","seq":9,"text":"t=5 k=1"}`))
	f.Add([]byte(`{"t":"conv","conv":{"id":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parseFrame(b)
		if err == nil && fr.T == "" {
			t.Fatalf("parseFrame(%q) accepted a frame without t", b)
		}
	})
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"Name:\tbeckon\nVmPeak:\t  99 kB\nVmRSS:\t   12345 kB\nThreads: 9\n", 12345 * 1024, true},
		{"VmRSS: 0 kB\n", 0, true},
		{"Name: x\n", 0, false},
		{"VmRSS: 12 MB\n", 0, false},
		{"VmRSS: -3 kB\n", 0, false},
		{"VmRSS: lots kB\n", 0, false},
	}
	for _, tt := range tests {
		got, err := parseVmRSS([]byte(tt.in))
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("parseVmRSS(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if rss, err := procRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("procRSS(self) = %d, %v", rss, err)
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"4242 (beckon) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 1000 200", 3 * time.Second, true},
		{"7 (a b) c)) R 1 2 3 4 5 6 7 8 9 10 11 12 0 0", 230 * time.Millisecond, true},
		{"7 beckon S 1", 0, false},
		{"7 (x) S 1 2 3", 0, false},
		{"7 (x) S 1 2 3 4 5 6 7 8 9 10 -1 2", 0, false},
	}
	for _, tt := range tests {
		got, err := parseStatCPU([]byte(tt.in))
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Errorf("procCPU(self): %v", err)
	}
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 4.2991616e+07
go_goroutines 123
go_memstats_heap_inuse_bytes 1.6e+07
http_request_duration_seconds_bucket{route="/m/v1/page",le="0.005"} 12
garbage line
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"process_resident_memory_bytes": 42991616, "go_goroutines": 123, "go_memstats_heap_inuse_bytes": 16e6}
	if len(m) != len(want) {
		t.Errorf("parseMetrics = %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

// The CSRF token is read from the console's pages; this fails if the template's hidden input
// changes shape.
func TestCSRFInputMatchesTemplate(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "web", "templates", "layout.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := strings.ReplaceAll(string(b), "{{.CSRF}}", "tok-123")
	page = regexp.MustCompile(`\{\{[^}]*\}\}`).ReplaceAllString(page, "")
	m := csrfInput.FindStringSubmatch(page)
	if m == nil || m[1] != "tok-123" {
		t.Errorf("csrf_token input not found in layout.html the way csrfToken reads it")
	}
}

func TestReadCookieFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cookies")
	os.WriteFile(p, []byte("# reps\nbeckon_session=abc\n\n  bare-value  \n__Host-beckon_session=x=y\n"), 0o600)
	got, err := readCookieFile(p)
	want := []string{"beckon_session=abc", "beckon_session=bare-value", "__Host-beckon_session=x=y"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("readCookieFile = %q, %v; want %q", got, err, want)
	}
	os.WriteFile(p, []byte("# nothing\n"), 0o600)
	if _, err := readCookieFile(p); err == nil {
		t.Error("a file without cookies was accepted")
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // part of the error
	}{
		{nil, "usage"},
		{[]string{"nope"}, "usage"},
		{[]string{"chat", "-url", "http://10.0.0.1:8080", "-site", "s", "-origin", "http://o"}, "loopback"},
		{[]string{"chat", "-url", "http://example.com", "-site", "s", "-origin", "http://o"}, "loopback"},
		{[]string{"chat", "-duration", "6m"}, "-duration"},
		{[]string{"chat", "-duration", "0s"}, "-duration"},
		{[]string{"chat", "-visitors", "0"}, "-visitors"},
		{[]string{"chat", "-rate", "100", "-visitors", "10"}, "-rate"},
		{[]string{"chat", "-baseline", "elsewhere"}, "-baseline"},
		{[]string{"chat", "-start", "/bin/beckon"}, "-start needs -data"},
		{[]string{"chat", "-url", "http://127.0.0.1:1", "-site", "s", "-origin", "http://o"}, "-rep-cookie-file"},
		{[]string{"chat", "-sources", "251"}, "-sources"},
		{[]string{"chat", "-data", "/nonexistent/load"}, "beckon-load setup"},
		{[]string{"fanout", "-subscribers", "1"}, "-subscribers"},
		{[]string{"fanout", "-sender-rate", "-1"}, "-sender-rate"},
		{[]string{"idle", "-sockets", "0"}, "-sockets"},
		{[]string{"idle", "-baseline", "inprocess"}, "child"},
		{[]string{"idle", "-url", "http://8.8.8.8", "-site", "s", "-origin", "o"}, "loopback"},
		{[]string{"setup"}, "-data"},
		{[]string{"setup", "-data", "x", "-url", "http://192.168.1.1"}, "loopback"},
		{[]string{"setup", "-data", "x", "-reps", "0"}, "-reps"},
		{[]string{"baseline-server", "-addr", "0.0.0.0:0"}, "loopback"},
		{[]string{"baseline-server", "-lifetime", "0s"}, "-lifetime"},
		{[]string{"pageviews", "--target", "http://10.1.1.1"}, "loopback"},
		{[]string{"chat", "-no-such-flag"}, "not defined"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := run(context.Background(), tt.args, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// baselineUnderTest starts the in-process baseline and a target for it with reps pretend reps.
func baselineUnderTest(t *testing.T, reps int, child bool) *target {
	t.Helper()
	b, err := startBaseline(context.Background(), child)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.stop)
	d, err := newDialers(2) // also proves dialing from 127.0.0.2 works
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{Name: "baseline", URL: b.URL, Site: "site_x", Origin: "http://127.0.0.1:18091", ConsoleOrigin: b.URL, PID: b.PID, d: d}
	for j := 0; j < reps; j++ {
		tg.Reps = append(tg.Reps, repSession{Email: fmt.Sprintf("r%d", j), Cookie: "beckon_session=x", CSRF: "x"})
	}
	return tg
}

func testFlags() sockFlags {
	return sockFlags{par: 16, duration: time.Second, setupTimeout: 30 * time.Second, baseline: "inprocess", sources: 2}
}

// The chat scenario against the baseline: every message sent reaches the rep who follows its
// conversation, once, and each is timed.
func TestChatAgainstBaseline(t *testing.T) {
	tg := baselineUnderTest(t, 4, false)
	o := chatOpts{sockFlags: testFlags(), visitors: 40, reps: 4, rate: 200, messages: 100, drain: 5 * time.Second}
	res, err := runChat(context.Background(), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sockets != 44 {
		t.Errorf("sockets open = %d, want 44", res.Sockets)
	}
	if res.Sent != 100 || res.Acked != 100 || res.Received != 100 || res.Lost != 0 || res.Duplicates != 0 || res.Refused != 0 {
		t.Errorf("sent %d acked %d received %d lost %d dup %d refused %d; want 100 of each and no loss",
			res.Sent, res.Acked, res.Received, res.Lost, res.Duplicates, res.Refused)
	}
	if res.Latency.N != 100 || res.AckLatency.N != 100 || res.Latency.P50ms <= 0 || res.Latency.P99ms < res.Latency.P50ms {
		t.Errorf("latency %+v, ack latency %+v", res.Latency, res.AckLatency)
	}
	if res.ClosedDuring != 0 {
		t.Errorf("%d sockets closed during the run: %s", res.ClosedDuring, res.FirstClose)
	}
}

// The fanout scenario against the baseline: every acknowledged message reaches every follower.
func TestFanoutAgainstBaseline(t *testing.T) {
	tg := baselineUnderTest(t, 3, false)
	o := fanoutOpts{sockFlags: testFlags(), subscribers: 12, senders: 3, messages: 60, reps: 3, drain: 5 * time.Second}
	o.duration = 10 * time.Second
	res, err := runFanout(context.Background(), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 60 || res.Expected != 720 || res.Deliveries != 720 {
		t.Errorf("acked %d, deliveries %d of %d; want 60 and 720 of 720", res.Acked, res.Deliveries, res.Expected)
	}
	if res.Latency.N != 720 || res.DeliveriesPerS <= 0 {
		t.Errorf("latency %+v, deliveries/s %v", res.Latency, res.DeliveriesPerS)
	}
}

// The sender rate limits each sending socket.
func TestFanoutSenderRate(t *testing.T) {
	tg := baselineUnderTest(t, 1, false)
	o := fanoutOpts{sockFlags: testFlags(), subscribers: 2, senders: 1, messages: 1000, reps: 1, senderRate: 20, drain: 2 * time.Second}
	res, err := runFanout(context.Background(), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	// One second at 20 a second: about 20, never hundreds.
	if res.Acked < 10 || res.Acked > 25 {
		t.Errorf("acked %d in 1 s at 20/s", res.Acked)
	}
}

// The idle scenario against the baseline in a child process: the child's memory is read from
// /proc and its runtime.
func TestIdleAgainstChildBaseline(t *testing.T) {
	tg := baselineUnderTest(t, 0, true)
	if tg.PID == os.Getpid() {
		t.Fatal("the child baseline runs in this process")
	}
	o := idleOpts{sockFlags: testFlags(), sockets: 200}
	res, err := runIdle(context.Background(), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sockets != 200 || res.Before.RSS <= 0 || res.After.RSS <= 0 || res.After.Goroutines < 200 || res.After.Goroutines > 300 {
		t.Errorf("idle result %+v; want 200 sockets, RSS read, and 1 goroutine a socket", res)
	}
	if res.HeapStackPerSocket <= 0 {
		t.Errorf("heap+stack per socket = %d, want > 0", res.HeapStackPerSocket)
	}
}

// The baseline answers unknown frames and pings as Beckon does.
func TestBaselineFrames(t *testing.T) {
	tg := baselineUnderTest(t, 1, false)
	ctx := context.Background()
	s, ready, err := tg.visitorSocket(ctx, 0, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if ready.T != "ready" {
		t.Errorf("auth answered %+v", ready)
	}
	if f, err := s.request(ctx, map[string]any{"t": "nonsense"}, isT("error")); err != nil || f.Code != "malformed" {
		t.Errorf("unknown frame answered %+v, %v", f, err)
	}
	if f, err := s.request(ctx, map[string]any{"t": "ping"}, isT("pong")); err != nil || f.T != "pong" {
		t.Errorf("ping answered %+v, %v", f, err)
	}
	if s.errors.Load() != 1 {
		t.Errorf("error frames counted: %d, want 1", s.errors.Load())
	}
}

// setup runs the beckon binary's operator commands and records what they print; a fake binary
// stands in for beckon here (the real one is exercised by the documented runs).
func TestSetupWithFakeBeckon(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-beckon")
	script := `#!/bin/sh
echo "$@" >> "$BECKON_DATA/calls"
test -n "$BECKON_SECRET_KEY_FILE" && test -n "$BECKON_BASE_URL" || { echo "missing env" >&2; exit 3; }
case "$1 $2" in
"workspace create") echo '{"workspace_id":"ws_1","site_id":"site_1","api_token":"bkt_x"}';;
"admin create") read pw; test ${#pw} -ge 12 || exit 4; n=$(wc -l < "$BECKON_DATA/calls"); echo "{\"user_id\":\"usr_$n\"}";;
*) exit 5;;
esac
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"setup", "-beckon", bin, "-data", data, "-reps", "3"}, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"setup", "-beckon", bin, "-data", data, "-reps", "5"}, &out); err != nil {
		t.Fatal(err)
	}
	lf, err := readLoadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if lf.WorkspaceID != "ws_1" || lf.SiteID != "site_1" || lf.APIToken != "bkt_x" || len(lf.Reps) != 5 || lf.Reps[4].Email != "load-rep-005@load.example" {
		b, _ := json.Marshal(lf)
		t.Errorf("load.json = %s", b)
	}
	calls, _ := os.ReadFile(filepath.Join(data, "calls"))
	if n := strings.Count(string(calls), "workspace create"); n != 1 {
		t.Errorf("workspace create ran %d times over two setups, want once:\n%s", n, calls)
	}
	if n := strings.Count(string(calls), "admin create"); n != 5 {
		t.Errorf("admin create ran %d times, want 5", n)
	}
	if key, err := os.ReadFile(filepath.Join(data, "secret.key")); err != nil || len(strings.TrimSpace(string(key))) != 64 {
		t.Errorf("secret.key = %q, %v", key, err)
	}
	if !strings.Contains(out.String(), "BECKON_TRUSTED_PROXIES=127.0.0.0/8") {
		t.Errorf("setup did not print the serve command:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"setup", "-beckon", bin, "-data", data, "-url", "http://127.0.0.1:9999"}, &out); err == nil {
		t.Error("setup accepted a different URL over an existing data folder")
	}
}

func TestLiveStamp(t *testing.T) {
	for title, want := range map[string]int64{"t=1700000000000000000 v=42": 1700000000000000000, "t=5": 5, "Pricing": 0, "t=x v=1": 0, "t=-3": 0} {
		got, ok := liveStamp(title)
		if got != want || ok != (want != 0) {
			t.Errorf("liveStamp(%q) = %d, %v", title, got, ok)
		}
	}
}
