package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/testkit"
)

// env returns a getenv over the given variables only.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func runCmd(t *testing.T, getenv func(string) string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb, getenv)
	return out.String(), errb.String(), err
}

func TestVersionAndHelp(t *testing.T) {
	out, _, err := runCmd(t, env(), "version")
	if err != nil || !strings.Contains(out, "tzdata 2025") || !strings.Contains(out, "go go1.") {
		t.Fatalf("version: %q %v", out, err)
	}
	for _, c := range [][]string{{"serve", "--help"}, {"demo", "--help"}, {"migrate", "status", "--help"}, {"workspace", "create", "--help"},
		{"admin", "create", "--help"}, {"backup", "--help"}} {
		_, stderr, err := runCmd(t, env(), c...)
		if err == nil || !strings.Contains(stderr, "Usage: beckon") || !strings.Contains(stderr, "BECKON_DATABASE_URL") {
			t.Errorf("%v: %v %q", c, err, stderr)
		}
	}
	if _, _, err := runCmd(t, env(), "frobnicate"); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestServeRefusesUnsafeConfig(t *testing.T) {
	_, _, err := runCmd(t, env("BECKON_DATA", t.TempDir()), "serve")
	if err == nil {
		t.Fatal("serve started without a secret key")
	}
	for _, want := range []string{"BECKON_SECRET_KEY", "openssl rand -hex 32", "BECKON_BASE_URL", "BECKON_SMTP_HOST"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not mention %s: %v", want, err)
		}
	}
	_, _, err = runCmd(t, env("BECKON_SECRET_KEY", "short", "BECKON_BASE_URL", "http://x.example"), "serve")
	if err == nil || !strings.Contains(err.Error(), "at least 32 random bytes") {
		t.Fatalf("weak key: %v", err)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	_, _, err = runCmd(t, env("BECKON_SECRET_KEY_FILE", keyFile, "BECKON_BASE_URL", "http://chat.example.com", "BECKON_SMTP_HOST", "smtp.example.com"), "serve", "--addr", "bogus")
	if err == nil || strings.Contains(err.Error(), "BECKON_SECRET_KEY must") || !strings.Contains(err.Error(), "BECKON_ADDR") || !strings.Contains(err.Error(), "http://") {
		t.Fatalf("key from file, bad addr, http base url: %v", err)
	}
}

// TestWorkspaceCreateAndBackup drives the operator commands on SQLite, and workspace create on
// PostgreSQL too when it is available.
func TestWorkspaceCreate(t *testing.T) {
	key := strings.Repeat("5a", 32)
	engines := map[string]func(string) string{"sqlite": env("BECKON_DATA", t.TempDir(), "BECKON_BASE_URL", "https://chat.acme.example", "BECKON_SECRET_KEY", key)}
	if os.Getenv(testkit.EnvPostgres) != "" {
		engines["postgres"] = env("BECKON_DATABASE_URL", testkit.PostgresURL(t), "BECKON_BASE_URL", "https://chat.acme.example", "BECKON_SECRET_KEY", key)
	}
	// Without the server's key or URL the command says what to set and changes nothing.
	_, _, err := runCmd(t, env("BECKON_DATA", t.TempDir()), "workspace", "create", "--name", "X", "--admin-email", "x@x.example")
	if err == nil || !strings.Contains(err.Error(), "BECKON_SECRET_KEY") || !strings.Contains(err.Error(), "BECKON_BASE_URL") {
		t.Fatalf("workspace create without key and URL: %v", err)
	}
	for name, getenv := range engines {
		t.Run(name, func(t *testing.T) {
			out, stderr, err := runCmd(t, getenv, "workspace", "create", "--name", "Globex", "--admin-email", "Hank@Globex.example", "--time-zone", "America/Chicago", "--origins", "https://globex.example")
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not one JSON object: %q", out)
			}
			if !id.Valid("ws", got["workspace_id"]) || !id.Valid("site", got["site_id"]) || got["admin_email"] != "hank@globex.example" ||
				!strings.HasPrefix(got["activation_url"], "https://chat.acme.example/activate/inv_") || !strings.HasPrefix(got["api_token"], "bkt_") {
				t.Fatalf("workspace create printed %v", got)
			}
			if _, _, err := runCmd(t, getenv, "workspace", "create", "--name", "Bad", "--admin-email", "x@y.example", "--time-zone", "Nowhere"); err == nil || !strings.Contains(err.Error(), "time_zone") {
				t.Fatalf("bad zone: %v", err)
			}
			out, _, err = runCmd(t, getenv, "admin", "create", "--workspace", got["workspace_id"], "--email", "second@globex.example")
			if err != nil || !strings.Contains(out, "/activate/inv_") {
				t.Fatalf("admin create: %q %v", out, err)
			}
			if _, _, err := runCmd(t, getenv, "admin", "create", "--workspace", "ws_aaaaaaaaaaaaaaaaaaaaaaaaaa", "--email", "x@globex.example"); err == nil {
				t.Fatal("admin create in an unknown workspace succeeded")
			}
			out, _, err = runCmd(t, getenv, "migrate", "status")
			if err != nil || !strings.Contains(out, "0001") || strings.Contains(out, "pending") {
				t.Fatalf("migrate status: %q %v", out, err)
			}
		})
	}
}

func TestBackupCommand(t *testing.T) {
	dir := t.TempDir()
	getenv := env("BECKON_DATA", dir, "BECKON_SECRET_KEY", strings.Repeat("5a", 32), "BECKON_BASE_URL", "https://chat.acme.example")
	if _, _, err := runCmd(t, getenv, "migrate", "up"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, getenv, "workspace", "create", "--name", "Saved", "--admin-email", "a@saved.example"); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "backup.db")
	out, _, err := runCmd(t, getenv, "backup", "--to", to)
	if err != nil || !strings.Contains(out, "wrote") {
		t.Fatalf("backup: %q %v", out, err)
	}
	b, err := db.OpenSQLite(context.Background(), to)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var name string
	if err := b.QueryRow(`SELECT name FROM workspaces`).Scan(&name); err != nil || name != "Saved" {
		t.Fatalf("backup content: %q %v", name, err)
	}
	if _, _, err := runCmd(t, getenv, "backup", "--to", to); err == nil {
		t.Fatal("backup overwrote a file")
	}
}

// TestEmailCommand: the operator suppresses an address, sees it, and lifts it; a bad address or
// lifting what is not there is an error.
func TestEmailCommand(t *testing.T) {
	getenv := env("BECKON_DATA", t.TempDir(), "BECKON_SECRET_KEY", strings.Repeat("5a", 32), "BECKON_BASE_URL", "https://chat.acme.example")
	out, _, err := runCmd(t, getenv, "email", "suppress", "--address", "Ann@Acme.Example")
	if err != nil || !strings.Contains(out, `"suppressed":true`) || !strings.Contains(out, `"email":"ann@acme.example"`) || !strings.Contains(out, `"reason":"manual"`) {
		t.Fatalf("suppress: %q %v", out, err)
	}
	if out, _, err = runCmd(t, getenv, "email", "status", "--address", "ann@acme.example"); err != nil || !strings.Contains(out, `"suppressed":true`) {
		t.Fatalf("status: %q %v", out, err)
	}
	if out, _, err = runCmd(t, getenv, "email", "unsuppress", "--address", "ann@acme.example"); err != nil || !strings.Contains(out, `"suppressed":false`) {
		t.Fatalf("unsuppress: %q %v", out, err)
	}
	if _, _, err = runCmd(t, getenv, "email", "unsuppress", "--address", "ann@acme.example"); err == nil {
		t.Fatal("lifted a suppression that was not there")
	}
	if _, _, err = runCmd(t, getenv, "email", "suppress", "--address", "not an address"); err == nil {
		t.Fatal("suppressed a bad address")
	}
	if _, _, err = runCmd(t, getenv, "email", "frobnicate", "--address", "a@b.example"); err == nil {
		t.Fatal("an unknown verb worked")
	}
}
