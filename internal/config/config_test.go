package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string, defaults map[string]string) (Config, error) {
	t.Helper()
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Bind(fs, defaults)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := c.Load(fs, func(k string) string { return env[k] })
	return c, err
}

func TestPrecedence(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "smtp")
	os.WriteFile(secretFile, []byte("from-file\n"), 0o600)
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		defaults map[string]string
		check    func(Config) bool
	}{
		{"default", nil, nil, nil, func(c Config) bool { return c.Addr == ":8080" && c.JobWorkers == 4 && c.JobLease == 5*time.Minute }},
		{"env over default", nil, map[string]string{"BECKON_ADDR": ":9000", "BECKON_JOB_WORKERS": "8"}, nil, func(c Config) bool { return c.Addr == ":9000" && c.JobWorkers == 8 }},
		{"flag over env", []string{"--addr", ":7000"}, map[string]string{"BECKON_ADDR": ":9000"}, nil, func(c Config) bool { return c.Addr == ":7000" }},
		{"command default", nil, nil, map[string]string{"addr": "127.0.0.1:8080"}, func(c Config) bool { return c.Addr == "127.0.0.1:8080" }},
		{"env over command default", nil, map[string]string{"BECKON_ADDR": ":9000"}, map[string]string{"addr": "127.0.0.1:8080"}, func(c Config) bool { return c.Addr == ":9000" }},
		{"secret from file", nil, map[string]string{"BECKON_SMTP_PASSWORD_FILE": secretFile}, nil, func(c Config) bool { return c.SMTPPassword == "from-file" }},
		{"env value over file", nil, map[string]string{"BECKON_SMTP_PASSWORD": "direct", "BECKON_SMTP_PASSWORD_FILE": secretFile}, nil, func(c Config) bool { return c.SMTPPassword == "direct" }},
		{"non-secret ignores _FILE", nil, map[string]string{"BECKON_ADDR_FILE": secretFile}, nil, func(c Config) bool { return c.Addr == ":8080" }},
		{"metrics token off by default", nil, nil, nil, func(c Config) bool { return c.MetricsToken == "" }},
		{"metrics token from env", nil, map[string]string{"BECKON_METRICS_TOKEN": "scrape-me"}, nil, func(c Config) bool { return c.MetricsToken == "scrape-me" }},
		{"metrics token from file", nil, map[string]string{"BECKON_METRICS_TOKEN_FILE": secretFile}, nil, func(c Config) bool { return c.MetricsToken == "from-file" }},
		{"metrics token flag", []string{"--metrics-token", "flagged"}, nil, nil, func(c Config) bool { return c.MetricsToken == "flagged" }},
	} {
		c, err := load(t, tc.args, tc.env, tc.defaults)
		if err != nil || !tc.check(c) {
			t.Errorf("%s: %+v %v", tc.name, c, err)
		}
	}
}

func TestLoadErrorsNameTheSetting(t *testing.T) {
	for env, want := range map[string]string{
		"BECKON_JOB_WORKERS":         "job-workers (from BECKON_JOB_WORKERS)",
		"BECKON_JOB_LEASE":           "not a duration",
		"BECKON_ALLOW_INSECURE_HTTP": "not true or false",
		"BECKON_SECRET_KEY_FILE":     "BECKON_SECRET_KEY_FILE",
	} {
		_, err := load(t, nil, map[string]string{env: "/nonexistent/x"}, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want mention of %q", env, err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Defaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"addr":                         func(c *Config) { c.Addr = "8080" },
		"base url":                     func(c *Config) { c.BaseURL = "ftp://x" },
		"smtp tls":                     func(c *Config) { c.SMTPTLS = "ssl" },
		"log format":                   func(c *Config) { c.LogFormat = "xml" },
		"workers":                      func(c *Config) { c.JobWorkers = 0 },
		"weak key":                     func(c *Config) { c.SecretKey = "abcd" },
		"metrics token with a space":   func(c *Config) { c.MetricsToken = "two words" },
		"metrics token with a newline": func(c *Config) { c.MetricsToken = "tok\n" },
		"metrics token not ASCII":      func(c *Config) { c.MetricsToken = "tökén" },
	} {
		c := Defaults()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	p := Defaults()
	err := p.ValidateProduction()
	for _, want := range []string{"BECKON_SECRET_KEY", "BECKON_BASE_URL", "BECKON_SMTP_HOST"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("production check does not name %s: %v", want, err)
		}
	}
	p.SecretKey, p.BaseURL, p.SMTPHost = strings.Repeat("ab", 32), "https://chat.example.com", "smtp.example.com"
	if err := p.ValidateProduction(); err != nil {
		t.Fatalf("safe config refused: %v", err)
	}
	if !p.SecureCookies() {
		t.Fatal("https base URL without secure cookies")
	}
}

func TestKeyBytes(t *testing.T) {
	for _, s := range []string{strings.Repeat("0f", 32), "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=", "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80"} {
		if b, err := KeyBytes(s); err != nil || len(b) != 32 {
			t.Errorf("KeyBytes(%q) = %d bytes, %v", s, len(b), err)
		}
	}
	if _, err := KeyBytes("not a key!"); err == nil {
		t.Error("garbage accepted")
	}
}

// TestREADMETable keeps the configuration table of README.md in step with the settings: each row
// is a line of Describe, and each line of Describe is a row.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| `--") {
			rows = append(rows, line)
		}
	}
	want := Describe()
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("README.md's configuration table is out of date; its rows should be:\n%s", strings.Join(want, "\n"))
	}
}
