package testkit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Environment variables of the browser helpers.
const (
	// EnvChromium names the Chromium binary; the default is Debian's /usr/bin/chromium.
	EnvChromium = "BECKON_CHROMIUM"
	// EnvBrowser set to 1 makes a missing browser fail the test instead of skipping it (for CI).
	EnvBrowser = "BECKON_TEST_BROWSER"
	// EnvScreenshots names a folder for Screenshot's files; the default is a temporary folder.
	EnvScreenshots = "BECKON_SCREENSHOTS"
)

// BrowserTimeout bounds everything one test does with its browser.
const BrowserTimeout = 60 * time.Second

// Browser starts a headless Chromium for the test, with a fresh profile in a temporary folder,
// and returns the chromedp context of its first tab (1280×800). The browser stops at the end of
// the test or after BrowserTimeout, whichever is first. Without Chromium the test is skipped,
// or fails when BECKON_TEST_BROWSER=1. The browser's own output is logged if the test fails.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := os.Getenv(EnvChromium)
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv(EnvBrowser) == "1" {
			t.Fatalf("no browser at %s (set %s): %v", path, EnvChromium, err)
		}
		t.Skipf("no browser at %s (set %s, or %s=1 to make this a failure)", path, EnvChromium, EnvBrowser)
	}
	profile := t.TempDir()
	out := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(out),
	)
	timeout, stopTimeout := context.WithTimeout(context.Background(), BrowserTimeout)
	alloc, stopAlloc := chromedp.NewExecAllocator(timeout, opts...)
	ctx, stopTab := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		stopTab()
		stopAlloc() // waits for the browser to exit, before t.TempDir removes its profile
		stopTimeout()
		if t.Failed() && out.Len() > 0 {
			t.Logf("browser output:\n%s", out.String())
		}
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser and open the tab now
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// BrowserContext opens a tab in a new browser context of the browser of ctx: like a private
// window, it shares no cookies or storage with the other tabs. It closes at the end of the test.
func BrowserContext(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	return tab
}

// shotDirs holds each running test's screenshot folder when BECKON_SCREENSHOTS is unset.
var shotDirs = struct {
	sync.Mutex
	m map[testing.TB]string
}{m: map[testing.TB]string{}}

// Screenshot saves a full-page PNG of the tab of ctx as <name>.png in the folder named by
// BECKON_SCREENSHOTS (created if needed), or else in a temporary folder of the test, and logs
// the file's path.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		shotDirs.Lock()
		d, ok := shotDirs.m[t]
		if !ok {
			d = t.TempDir()
			shotDirs.m[t] = d
			t.Cleanup(func() {
				shotDirs.Lock()
				delete(shotDirs.m, t)
				shotDirs.Unlock()
			})
		}
		shotDirs.Unlock()
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	file := filepath.Join(dir, safeFileName(name)+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", file)
}

// safeFileName keeps letters, digits, '-', '_' and '.' of name and replaces the rest with '-'.
func safeFileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, name)
}

// Tab is a browser tab a test drives. It records the tab's uncaught exceptions and its console
// errors and warnings, and its helpers reach into the messenger's closed shadow root through
// DevTools (which sees closed roots), as no script of the page could. Each helper fails the test
// after a bounded wait.
type Tab struct {
	T   testing.TB
	Ctx context.Context

	mu       sync.Mutex
	errors   []string
	warnings []string
}

// NewTab starts recording the console of the tab of ctx and asks the tab for reduced motion, so
// that screenshots never catch an animation half-way.
func NewTab(t testing.TB, ctx context.Context) *Tab {
	t.Helper()
	b := &Tab{T: t, Ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			b.errors = append(b.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, text))
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				var s string
				if json.Unmarshal(a.Value, &s) != nil {
					s = string(a.Value) + a.Description
				}
				parts = append(parts, s)
			}
			msg := strings.Join(parts, " ")
			switch ev.Type {
			case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeAssert:
				b.errors = append(b.errors, "console.error: "+msg)
			case runtime.ConsoleAPICalledTypeWarning:
				b.warnings = append(b.warnings, msg)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Do("reduced motion", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}})
		return err
	}))
	return b
}

// Console returns the uncaught exceptions and console.error calls (errors), and the
// console.warn calls (warnings), of the tab so far.
func (b *Tab) Console() (errors, warnings []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...), append([]string(nil), b.warnings...)
}

// Do runs steps in the tab, for up to 20 s; what names them in the failure.
func (b *Tab) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.T.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates the JavaScript expression expr in the page and returns its value.
func Eval[T any](b *Tab, expr string) T {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.T.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Messenger returns the messenger's closed shadow root (on the <beckon-messenger> element), as
// DevTools sees it, waiting up to 15 s for it.
func (b *Tab) Messenger() *chromedp.Node {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 15*time.Second)
	defer cancel()
	for {
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("beckon-messenger"),
			chromedp.Populate(-1, true, chromedp.PopulateWait(50*time.Millisecond))))
		if err != nil {
			b.T.Fatalf("find the messenger: %v", err)
		}
		host := nodes[0]
		host.RLock()
		roots := host.ShadowRoots
		host.RUnlock()
		if len(roots) > 0 {
			return roots[0]
		}
		if ctx.Err() != nil {
			b.T.Fatal("the messenger has no shadow root")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MessengerJS runs fn (a JavaScript function of no arguments, this being the element) on the
// element sel of the messenger's shadow root, and returns its result.
func MessengerJS[T any](b *Tab, sel, fn string) T {
	b.T.Helper()
	root := b.Messenger()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.QueryAfter(chromedp.CSS(sel), func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) (T, error) {
		var zero T
		obj, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{NodeID: nodes[0].NodeID})
		if err != nil {
			return zero, err
		}
		yes := true
		res, err := cdp.Call(ctx, t, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
			FunctionDeclaration: fn, ObjectID: obj.Object.ObjectID, ReturnByValue: &yes})
		if err != nil {
			return zero, err
		}
		if res.ExceptionDetails != nil {
			return zero, fmt.Errorf("%s: %s", fn, res.ExceptionDetails.Text)
		}
		var v T
		err = json.Unmarshal(res.Result.Value, &v)
		return v, err
	}, chromedp.FromNode(root)))
	if err != nil {
		b.T.Fatalf("%s on %s: %v", fn, sel, err)
	}
	return v
}

// In selects sel inside the messenger's shadow root, for chromedp's query actions.
func (b *Tab) In(sel string, opts ...chromedp.QueryOption) (chromedp.CSS, []chromedp.QueryOption) {
	return chromedp.CSS(sel), append([]chromedp.QueryOption{chromedp.FromNode(b.Messenger())}, opts...)
}

// Click clicks the element sel of the messenger once it is visible.
func (b *Tab) Click(sel string) {
	b.T.Helper()
	s, o := b.In(sel, chromedp.NodeVisible)
	b.Do("click "+sel, chromedp.Click(s, o...))
}

// Visible waits until the element sel of the messenger is visible.
func (b *Tab) Visible(sel string) {
	b.T.Helper()
	s, o := b.In(sel, chromedp.NodeVisible)
	b.Do(sel+" visible", chromedp.Query(s, o...))
}

// Hidden waits until the element sel of the messenger is not visible.
func (b *Tab) Hidden(sel string) {
	b.T.Helper()
	s, o := b.In(sel, chromedp.NodeNotVisible)
	b.Do(sel+" hidden", chromedp.Query(s, o...))
}

// Send types text into the messenger's message input and presses Enter as a keyboard does
// (keyDown with the text, so that preventing the default keeps the newline out), and checks that
// the input is empty afterwards.
func (b *Tab) Send(text string) {
	b.T.Helper()
	s, o := b.In(".bk-input")
	enter := func(typ input.DispatchKeyEventType, text string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{Type: typ, Key: "Enter",
				Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: text})
			return err
		})
	}
	b.Do("type "+text, chromedp.SendKeys(s, text, o...), enter(input.DispatchKeyEventTypeKeyDown, "\r"), enter(input.DispatchKeyEventTypeKeyUp, ""))
	if v := MessengerJS[string](b, ".bk-input", `function(){ return this.value }`); v != "" {
		b.T.Errorf("the input holds %q after sending", v)
	}
}

// Text returns the innerText of the element sel of the messenger.
func (b *Tab) Text(sel string) string {
	b.T.Helper()
	return MessengerJS[string](b, sel, `function(){ return this.innerText }`)
}

// Focused reports whether the element sel of the messenger has the focus.
func (b *Tab) Focused(sel string) bool {
	b.T.Helper()
	return MessengerJS[bool](b, sel, `function(){ return this.getRootNode().activeElement === this }`)
}

// Cookies returns the browser's cookies for pageURL by name.
func (b *Tab) Cookies(pageURL string) map[string]*network.Cookie {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (*network.GetCookiesResult, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{pageURL}})
		return &r, err
	})
	if err != nil {
		b.T.Fatalf("cookies: %v", err)
	}
	m := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		m[c.Name] = c
	}
	return m
}

// StateCookie decodes the value of the messenger's _bk_state_<site id> cookie: base64url JSON
// {"t": visitor token, "o": panel open, "c": consent}.
func StateCookie(t testing.TB, c *network.Cookie) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		t.Fatalf("state cookie %q is not base64url: %v", c.Value, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("state cookie %s is not JSON: %v", b, err)
	}
	return m
}

// Eventually polls cond every 50 ms for up to 10 s, and fails the test if it never holds.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; {
		if cond() {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the browser's output goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
