package widget

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/widget/build"
)

// Budgets (M6, issue 3): the loader, and the loader plus the messenger needed to open the chat.
const (
	loaderBudget = 1536
	totalBudget  = 17 * 1024
)

// TestDistIsCurrent builds src/ with esbuild in process and compares every file with the
// committed dist/.
func TestDistIsCurrent(t *testing.T) {
	files, err := build.Build(".")
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("dist", name))
		if err != nil {
			t.Errorf("dist/%s: %v; run go generate ./internal/widget", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("dist/%s differs from a fresh build of src/; run go generate ./internal/widget", name)
		}
	}
	entries, err := os.ReadDir("dist")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			t.Errorf("dist/%s is not made by the build; remove it, or run go generate ./internal/widget", e.Name())
		}
	}
}

// TestHashes checks that the embedded files, their hashes and the manifest agree, and that the
// loader names the messenger it injects and the messenger names its stylesheet.
func TestHashes(t *testing.T) {
	var manifest map[string]build.Entry
	b, err := os.ReadFile("dist/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	loader, lh := Loader()
	messenger, mh := Messenger()
	css, ch := Stylesheet()
	for name, got := range map[string]string{"beckon.js": lh, "messenger.js": mh, "messenger.css": ch} {
		if manifest[name].Hash != got {
			t.Errorf("%s: hash %s, manifest says %s", name, got, manifest[name].Hash)
		}
		if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(got) {
			t.Errorf("%s: hash %q is not 12 hex digits", name, got)
		}
	}
	for _, c := range []struct {
		in     []byte
		name   string
		substr string
	}{
		{loader, "loader", "/js/messenger." + mh + ".js"},
		{messenger, "messenger", ch},
		{messenger, "messenger", "_bk_state_"},
	} {
		if !bytes.Contains(c.in, []byte(c.substr)) {
			t.Errorf("the %s does not contain %q", c.name, c.substr)
		}
	}
	if len(css) == 0 || bytes.Count(css, []byte("\n")) > 1 {
		t.Errorf("the stylesheet is empty or not minified (%d bytes)", len(css))
	}
	// Nothing that a strict CSP or Trusted Types would refuse.
	for _, bad := range []string{"eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "setAttribute(\"style\""} {
		for name, js := range map[string][]byte{"loader": loader, "messenger": messenger} {
			if bytes.Contains(js, []byte(bad)) {
				t.Errorf("the %s uses %s", name, bad)
			}
		}
	}
}

// TestBudgets fails when the gzipped scripts grow beyond the M6 budgets.
func TestBudgets(t *testing.T) {
	l, m := Sizes()
	t.Logf("loader %d B gzipped (budget %d), messenger %d B gzipped, loader+messenger %d B (budget %d)",
		l, loaderBudget, m, l+m, totalBudget)
	if l > loaderBudget {
		t.Errorf("loader is %d B gzipped, over its budget of %d B", l, loaderBudget)
	}
	if l+m > totalBudget {
		t.Errorf("loader+messenger are %d B gzipped, over their budget of %d B", l+m, totalBudget)
	}
	lb, _ := Loader()
	if g := build.GzipSize(lb); g != l {
		t.Errorf("Sizes says %d, build.GzipSize %d", l, g)
	}
}

func TestSnippet(t *testing.T) {
	_, hash := Loader()
	got := Snippet("https://beckon.example/", "site_abc")
	want := "<!-- Beckon -->\n" +
		"<script>window.beckon=window.beckon||function(){(beckon.q=beckon.q||[]).push(arguments)};</script>\n" +
		`<script async src="https://beckon.example/js/beckon.js?v=` + hash + `" data-site="site_abc"></script>` + "\n"
	if got != want {
		t.Errorf("Snippet:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(Snippet("https://beckon.example/base", "s"), `src="https://beckon.example/base/js/beckon.js?v=`) {
		t.Error("a base URL with a path is not kept")
	}

	// Whatever the arguments, the inline script is the constant one (its CSP hash holds), there
	// are exactly two script elements, and the values stay inside their quoted attributes.
	hostile := []string{
		`"><script>alert(1)</script>`,
		`'/><img src=x onerror=alert(1)>`,
		`</script><script>alert(1)</script>`,
		"\"-alert(1)-\"", `\";alert(1);//`, "a&b", "x\ny\u2028z", `javascript:alert(1)`,
	}
	shape := regexp.MustCompile(`^<!-- Beckon -->\n<script>([^<]*)</script>\n<script async src="([^"<>]*)" data-site="([^"<>]*)"></script>\n$`)
	for _, h := range hostile {
		for _, s := range []string{Snippet(h, "site_abc"), Snippet("https://beckon.example", h)} {
			m := shape.FindStringSubmatch(s)
			if m == nil {
				t.Errorf("snippet for %q is not well formed:\n%s", h, s)
				continue
			}
			if m[1] != snippetScript {
				t.Errorf("snippet for %q: inline script %q changed", h, m[1])
			}
			if strings.Count(s, "<script") != 2 || strings.Count(s, "</script>") != 2 {
				t.Errorf("snippet for %q has other script tags:\n%s", h, s)
			}
			if strings.ContainsAny(m[2]+m[3], `'<>`) {
				t.Errorf("snippet for %q leaves a raw quote or angle bracket in an attribute:\n%s", h, s)
			}
		}
	}
	if got := Snippet("https://b.example", `a"b&c`); !strings.Contains(got, `data-site="a&#34;b&amp;c"`) {
		t.Errorf("site id not escaped: %s", got)
	}
	if h := SnippetCSPHash(); !regexp.MustCompile(`^'sha256-[A-Za-z0-9+/]{43}='$`).MatchString(h) {
		t.Errorf("SnippetCSPHash = %s", h)
	}
	// The integrators' docs show the same inline line and its hash.
	doc, err := os.ReadFile("../../docs/SNIPPET.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{snippetScript, SnippetCSPHash()} {
		if !bytes.Contains(doc, []byte(s)) {
			t.Errorf("docs/SNIPPET.md does not show %s", s)
		}
	}
}
