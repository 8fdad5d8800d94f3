package testkit

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
