package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// target is a server the socket scenarios drive: Beckon, or the baseline. Both answer the same
// client code; only how reps authenticate differs (Beckon: real console sessions).
type target struct {
	Name          string // "beckon" or "baseline"
	URL           string // http://127.0.0.1:port
	Site, Origin  string // site id and an allowed origin of the workspace
	ConsoleOrigin string // the console's own origin: the Origin of rep sockets and REST calls
	Reps          []repSession
	PID           int // the server's process when known (its RSS is read from /proc), else 0
	d             *dialers
}

// repSession is a logged-in rep: the session cookie ("name=value") and its CSRF token.
type repSession struct {
	Email, Cookie, CSRF string
}

const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36 beckon-load"

// repIP is the X-Forwarded-For address of rep connection i (a login, a socket, a REST call): in
// 198.19.200.0–198.19.255.255, above the visitors' (Beckon limits sockets per address).
func repIP(i int) string { return fmt.Sprintf("198.19.%d.%d", 200+(i>>8)%56, i&255) }

// hello opens visitor i with POST /m/v1/hello and returns its visitor token.
func (t *target) hello(ctx context.Context, i int) (string, error) {
	body, _ := json.Marshal(map[string]any{"site_id": t.Site, "page": map[string]string{"url": fmt.Sprintf("%s/pricing?utm_source=load&v=%d", t.Origin, i), "title": "Pricing"},
		"time_zone": "Europe/Berlin", "language": "en-GB"})
	req, _ := http.NewRequestWithContext(ctx, "POST", t.URL+"/m/v1/hello", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", t.Origin)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Forwarded-For", visitorIP(i))
	resp, err := t.d.client(i).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		VisitorToken string `json:"visitor_token"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil || r.VisitorToken == "" {
		return "", fmt.Errorf("hello: %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return r.VisitorToken, nil
}

// hellos opens n visitors, par at a time, and returns their tokens (all, or an error).
func (t *target) hellos(ctx context.Context, n, par int) ([]string, error) {
	tokens := make([]string, n)
	failed, err := forEach(ctx, n, par, func(ctx context.Context, i int) error {
		tok, err := t.hello(ctx, i)
		tokens[i] = tok
		return err
	})
	if failed > 0 {
		return nil, fmt.Errorf("%s: %d of %d hellos failed, the first with: %w", t.Name, failed, n, err)
	}
	return tokens, nil
}

// visitorSocket opens visitor i's socket, authenticates it with its token and waits for ready.
func (t *target) visitorSocket(ctx context.Context, i int, token string) (*sock, *frame, error) {
	h := http.Header{}
	h.Set("Origin", t.Origin)
	h.Set("User-Agent", userAgent)
	h.Set("X-Forwarded-For", visitorIP(i))
	s, err := dialSocket(ctx, t.d.client(i), t.URL+"/m/v1/socket?site="+url.QueryEscape(t.Site), h)
	if err != nil {
		return nil, nil, err
	}
	ready, err := s.request(ctx, map[string]string{"t": "auth", "token": token}, func(f *frame) bool { return f.T == "ready" || f.T == "error" })
	if err == nil && ready.T != "ready" {
		err = fmt.Errorf("auth refused: %s %s", ready.Code, ready.Message)
	}
	if err != nil {
		s.c.CloseNow()
		return nil, nil, fmt.Errorf("visitor %d: %w", i, err)
	}
	return s, ready, nil
}

// repFrameGap spaces a rep socket's frames: at most 40 a second, under Beckon's 50.
const repFrameGap = 25 * time.Millisecond

// repSocket opens a socket for rep session j (connection number i picks the source address)
// and waits for ready.
func (t *target) repSocket(ctx context.Context, i, j int) (*sock, error) {
	r := t.Reps[j%len(t.Reps)]
	h := http.Header{}
	h.Set("Origin", t.ConsoleOrigin)
	h.Set("User-Agent", userAgent)
	h.Set("Cookie", r.Cookie)
	h.Set("X-Forwarded-For", repIP(i))
	s, err := dialSocket(ctx, t.d.client(i), t.URL+"/console/socket", h)
	if err != nil {
		return nil, fmt.Errorf("rep %s: %w", r.Email, err)
	}
	s.gap = repFrameGap
	w := s.expect(isT("ready"))
	if _, err := s.await(ctx, w); err != nil {
		s.c.CloseNow()
		return nil, fmt.Errorf("rep %s: waiting for ready: %w", r.Email, err)
	}
	return s, nil
}

// accept has rep j accept a conversation: POST /api/v1/conversations/{id}/accept with the
// rep's session cookie and CSRF token.
func (t *target) accept(ctx context.Context, j int, conv string) error {
	r := t.Reps[j%len(t.Reps)]
	req, _ := http.NewRequestWithContext(ctx, "POST", t.URL+"/api/v1/conversations/"+url.PathEscape(conv)+"/accept", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", r.Cookie)
	req.Header.Set("X-CSRF-Token", r.CSRF)
	req.Header.Set("Origin", t.ConsoleOrigin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("X-Forwarded-For", repIP(j))
	resp, err := t.d.client(j).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("accept %s as %s: %d %s", conv, r.Email, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// login logs a rep in with POST /login and returns the session cookie as "name=value".
func login(ctx context.Context, client *http.Client, base, email, password, ip string) (string, error) {
	form := url.Values{"email": {email}, "password": {password}}
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", originOf(base))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "beckon_session") && c.Value != "" {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("login %s: %d without a session cookie", email, resp.StatusCode)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfToken reads the session's CSRF token from the console's home page.
func csrfToken(ctx context.Context, client *http.Client, base, cookie, ip string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/", nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	m := csrfInput.FindSubmatch(b)
	if resp.StatusCode != 200 || m == nil {
		return "", fmt.Errorf("console home: %d without a CSRF token (is the session valid?)", resp.StatusCode)
	}
	return string(m[1]), nil
}

// setRole makes a user a rep through the API (PATCH /api/v1/users/{id}), with an admin's token.
func setRole(ctx context.Context, client *http.Client, base, token, userID, role string) error {
	body, _ := json.Marshal(map[string]string{"role": role})
	req, _ := http.NewRequestWithContext(ctx, "PATCH", base+"/api/v1/users/"+url.PathEscape(userID), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != 200 {
		return fmt.Errorf("set role of %s: %d %s", userID, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// originOf is the scheme://host[:port] of a URL.
func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
}

// readCookieFile reads session cookies, one a line: "name=value", or a bare value taken as
// beckon_session's. Blank lines and lines starting with # are skipped.
func readCookieFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(line, "=") {
			line = "beckon_session=" + line
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no cookies", path)
	}
	return out, nil
}

// memReading is a server's memory at one moment, from where it could be read.
type memReading struct {
	RSS        int64  `json:"rss_bytes"`
	HeapInuse  int64  `json:"heap_inuse_bytes,omitempty"`
	StackInuse int64  `json:"stack_inuse_bytes,omitempty"`
	Goroutines int    `json:"goroutines,omitempty"`
	Source     string `json:"source"`
}

// mem reads the server's memory: RSS from /proc when its process is known, and the Go runtime's
// figures from /metrics (Beckon) or /debug/mem (the baseline).
func (t *target) mem(ctx context.Context) (memReading, error) {
	var m memReading
	if t.Name == "baseline" {
		req, _ := http.NewRequestWithContext(ctx, "GET", t.URL+"/debug/mem", nil)
		resp, err := t.d.client(0).Do(req)
		if err != nil {
			return m, err
		}
		defer resp.Body.Close()
		var s memSample
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			return m, err
		}
		m = memReading{RSS: s.RSS, HeapInuse: s.HeapInuse, StackInuse: s.StackInuse, Goroutines: s.Goroutines, Source: "/proc/<pid>/status VmRSS and runtime.MemStats"}
		if t.PID > 0 && t.PID != os.Getpid() {
			m.RSS, err = procRSS(t.PID)
		}
		return m, err
	}
	metrics, merr := scrapeMetrics(ctx, t.d.client(0), t.URL+"/metrics")
	m.HeapInuse, m.StackInuse = int64(metrics["go_memstats_heap_inuse_bytes"]), int64(metrics["go_memstats_stack_inuse_bytes"])
	m.Goroutines = int(metrics["go_goroutines"])
	if t.PID > 0 {
		rss, err := procRSS(t.PID)
		if err != nil {
			return m, err
		}
		m.RSS, m.Source = rss, fmt.Sprintf("/proc/%d/status VmRSS; Go memory from /metrics", t.PID)
		return m, nil
	}
	if merr != nil {
		return m, fmt.Errorf("no server process id (-pid or -start) and /metrics: %w", merr)
	}
	rss, ok := metrics["process_resident_memory_bytes"]
	if !ok {
		return m, errors.New("no server process id (-pid or -start) and /metrics has no process_resident_memory_bytes")
	}
	m.RSS, m.Source = int64(rss), "/metrics process_resident_memory_bytes"
	return m, nil
}

// procRSS reads a process's resident set size from /proc/<pid>/status (VmRSS, in kB).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

func parseVmRSS(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			break
		}
		return n * 1024, nil
	}
	return 0, errors.New("no VmRSS line in kB")
}

// procCPU reads the user and system CPU time a process has used, from /proc/<pid>/stat, in
// clock ticks of 10 ms (USER_HZ is 100 on Linux's common architectures).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

func parseStatCPU(stat []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces: count from the last ")".
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("no command name in stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short stat line")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || u < 0 || st < 0 {
		return 0, errors.New("utime or stime is not a count")
	}
	return time.Duration(u+st) * 10 * time.Millisecond, nil
}

// cpu is the server's CPU time so far, when its process is known (and not this one).
func (t *target) cpu() (time.Duration, bool) {
	if t.PID <= 0 || t.PID == os.Getpid() {
		return 0, false
	}
	d, err := procCPU(t.PID)
	return d, err == nil
}

// loadAvg is the machine's load average over the last minute, from /proc/loadavg ("" if unknown).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// scrapeMetrics reads the unlabelled samples of a Prometheus text exposition.
func scrapeMetrics(ctx context.Context, client *http.Client, u string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	if tok := os.Getenv("BECKON_METRICS_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	return parseMetrics(io.LimitReader(resp.Body, 16<<20))
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		out[f[0]] = v
	}
	return out, sc.Err()
}

// waitReady polls GET /readyz until it answers 2xx, the process ends (exited is closed), or the
// timeout passes.
func waitReady(ctx context.Context, client *http.Client, base string, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return nil
			}
			err = fmt.Errorf("readyz %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v", base, timeout, last)
		case <-exited:
			return errors.New("the server exited while starting")
		case <-tick.C:
		}
	}
}
