package notify

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

const docPath = "../../docs/NOTIFICATIONS.md"

// TestDocsVerifyExample compiles the receiver of docs/NOTIFICATIONS.md with the Go toolchain and
// runs it against signatures made by Sign: it must accept what Beckon signs, with either secret
// during a rotation, and refuse a changed body, another secret, an old timestamp and junk.
func TestDocsVerifyExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- example: go -->\n```go\n(.*?\n)```\n").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no Go example in " + docPath)
	}
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"message.created","data":{"text":"héllo <b>"}}`)
	old, cur := []byte("whsec_old"), []byte("whsec_current")
	type tc struct {
		header, body, secret string
		at                   time.Time
		want                 string
	}
	cases := []tc{
		{Sign(now, body, cur), string(body), "whsec_current", now, "ok"},
		{Sign(now, body, cur, old), string(body), "whsec_old", now, "ok"},
		{Sign(now, body, cur), string(body) + " ", "whsec_current", now, "refused"},
		{Sign(now, body, cur), string(body), "whsec_other", now, "refused"},
		{Sign(now.Add(-10*time.Minute), body, cur), string(body), "whsec_current", now, "refused"},
		{"t=1,v1=zz", string(body), "whsec_current", now, "refused"},
		{"", string(body), "whsec_current", now, "refused"},
	}
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n\t\"fmt\"\n\t\"time\"\n)\n\nfunc main() {\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "\tif err := verifyBeckon(%q, []byte(%q), %q, time.Unix(%d, 0)); err != nil {\n\t\tfmt.Println(\"refused\")\n\t} else {\n\t\tfmt.Println(\"ok\")\n\t}\n",
			c.header, c.body, c.secret, c.at.Unix())
	}
	b.WriteString("\t_ = beckonHandler\n}\n")
	dir := t.TempDir()
	for name, text := range map[string]string{"go.mod": "module docexample\n\ngo 1.22\n", "receiver.go": string(m[1]), "main.go": b.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the example does not run: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(cases) {
		t.Fatalf("output %q", out)
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("case %d (%.40q with %s): %s, want %s", i, c.header, c.secret, got[i], c.want)
		}
	}
}
