package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// loadFile is DIR/load.json, written by the setup command: where the server under test listens
// and the workspace, site and reps the socket scenarios use.
type loadFile struct {
	URL         string    `json:"url"`
	Origin      string    `json:"origin"`
	WorkspaceID string    `json:"workspace_id"`
	SiteID      string    `json:"site_id"`
	APIToken    string    `json:"api_token"`
	Password    string    `json:"password"` // every rep's; test accounts on a loopback server
	Reps        []loadRep `json:"reps"`
}

type loadRep struct {
	Email  string `json:"email"`
	UserID string `json:"user_id"`
}

const loadFileName = "load.json"

func readLoadFile(dir string) (*loadFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, loadFileName))
	if err != nil {
		return nil, err
	}
	var lf loadFile
	if err := json.Unmarshal(b, &lf); err != nil {
		return nil, fmt.Errorf("%s: %w", loadFileName, err)
	}
	return &lf, nil
}

func (lf *loadFile) write(dir string) error {
	b, _ := json.MarshalIndent(lf, "", "  ")
	tmp := filepath.Join(dir, loadFileName+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, loadFileName))
}

// serverEnv is the environment `beckon serve` runs with over a setup's data folder: SQLite in
// DIR, the key setup generated, an http base URL on loopback, every loopback address trusted as a
// proxy (the tool names each virtual visitor's address in X-Forwarded-For and may dial from
// 127.0.0.2 …), and an SMTP server that does not exist (serve insists on one; the only email
// queued is the first admin's invitation, which fails and is retried in the background).
func serverEnv(dir, base string) ([]string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not a URL", base)
	}
	return []string{
		"BECKON_DATA=" + dir,
		"BECKON_SECRET_KEY_FILE=" + filepath.Join(dir, "secret.key"),
		"BECKON_BASE_URL=" + base,
		"BECKON_ADDR=" + u.Host,
		"BECKON_ALLOW_INSECURE_HTTP=true",
		"BECKON_SMTP_HOST=127.0.0.1",
		"BECKON_SMTP_PORT=9",
		"BECKON_SMTP_TLS=none",
		"BECKON_TRUSTED_PROXIES=127.0.0.0/8",
		"BECKON_LOG_LEVEL=warn",
		"BECKON_LOG_FORMAT=text",
	}, nil
}

// cmdSetup prepares a data folder for the socket scenarios by running the beckon binary's own
// operator commands: `beckon workspace create` (a workspace whose allowed origin is -origin) and
// `beckon admin create --password-file -` once per rep (users with a password, active at once,
// no email needed). The scenarios make them reps (PATCH /api/v1/users/{id} with the workspace
// token), log them in with POST /login like a browser, and read the CSRF token from the console.
// Run again with a larger -reps to add reps; existing ones are kept.
func cmdSetup(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("beckon-load setup", flag.ContinueOnError)
	bin := fs.String("beckon", "beckon", "the beckon binary (go build -o /tmp/beckon ./cmd/beckon)")
	dir := fs.String("data", "", "the server's data folder (created if missing; SQLite lives there) (required)")
	base := fs.String("url", "http://127.0.0.1:18090", "the URL the server will listen at (loopback only)")
	origin := fs.String("origin", "http://127.0.0.1:18091", "the workspace's allowed origin (no server needs to listen there)")
	reps := fs.Int("reps", 100, "rep users to create (fanout's 99 rep subscribers are distinct users when ≥ 99)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-data DIR is required")
	}
	if *reps < 1 || *reps > 1000 {
		return errors.New("-reps must be in [1, 1000]")
	}
	if err := checkLoopback(*base); err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	keyPath := filepath.Join(abs, "secret.key")
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		k := make([]byte, 32)
		rand.Read(k)
		if err := os.WriteFile(keyPath, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
			return err
		}
	}
	env, err := serverEnv(abs, *base)
	if err != nil {
		return err
	}
	lf, err := readLoadFile(abs)
	if errors.Is(err, os.ErrNotExist) {
		pw := make([]byte, 18)
		rand.Read(pw)
		lf, err = &loadFile{URL: *base, Origin: *origin, Password: "load-" + hex.EncodeToString(pw)}, nil
	}
	if err != nil {
		return err
	}
	if lf.URL != *base {
		return fmt.Errorf("%s was set up for %s, not %s: use another -data folder", abs, lf.URL, *base)
	}
	runBeckon := func(stdin string, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, *bin, args...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", *bin, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
		}
		return b, nil
	}
	if lf.WorkspaceID == "" {
		b, err := runBeckon("", "workspace", "create", "--name", "Load test", "--admin-email", "load-admin@load.example", "--origins", *origin)
		if err != nil {
			return err
		}
		var c struct {
			WorkspaceID string `json:"workspace_id"`
			SiteID      string `json:"site_id"`
			APIToken    string `json:"api_token"`
		}
		if err := json.Unmarshal(b, &c); err != nil || c.WorkspaceID == "" {
			return fmt.Errorf("workspace create printed %q", b)
		}
		lf.WorkspaceID, lf.SiteID, lf.APIToken = c.WorkspaceID, c.SiteID, c.APIToken
		if err := lf.write(abs); err != nil {
			return err
		}
	}
	start := time.Now()
	for i := len(lf.Reps); i < *reps; i++ {
		email := fmt.Sprintf("load-rep-%03d@load.example", i+1)
		b, err := runBeckon(lf.Password+"\n", "admin", "create", "--workspace", lf.WorkspaceID, "--email", email, "--password-file", "-")
		if err != nil {
			return err
		}
		var c struct {
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(b, &c); err != nil || c.UserID == "" {
			return fmt.Errorf("admin create printed %q", b)
		}
		lf.Reps = append(lf.Reps, loadRep{Email: email, UserID: c.UserID})
		if err := lf.write(abs); err != nil { // after each, so an interrupted setup resumes
			return err
		}
	}
	fmt.Fprintf(out, "Set up %s in %s: workspace %s, site %s, %d reps.\n\nStart the server with\n\n  ulimit -n $(ulimit -Hn)\n  %s %s serve\n\nor let a scenario start it: beckon-load chat -data %s -start %s\n",
		abs, time.Since(start).Round(time.Second), lf.WorkspaceID, lf.SiteID, len(lf.Reps), strings.Join(env, " "), *bin, abs, *bin)
	return nil
}

// checkLoopback refuses URLs that are not on this machine's loopback.
func checkLoopback(u string) error {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
		return fmt.Errorf("%q is not an http(s) URL", u)
	}
	ip := net.ParseIP(p.Hostname())
	if p.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s is not this machine's loopback (127.0.0.0/8, ::1 or localhost)", p.Hostname())
	}
	return nil
}

// serverProc is a `beckon serve` the tool started itself.
type serverProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
}

// startServer runs `bin serve` over a setup's data folder with serverEnv, its output appended to
// DIR/server.log, and waits until /readyz answers.
func startServer(ctx context.Context, bin, dir string, lf *loadFile, d *dialers) (*serverProc, error) {
	env, err := serverEnv(dir, lf.URL)
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &serverProc{cmd: cmd, exited: make(chan struct{}), log: logf}
	go func() { cmd.Wait(); close(p.exited) }()
	if err := waitReady(ctx, d.client(0), lf.URL, time.Minute, p.exited); err != nil {
		p.stop()
		return nil, fmt.Errorf("%w (see %s)", err, logf.Name())
	}
	return p, nil
}

// stop ends the server gracefully (SIGTERM), or kills it after 30 s.
func (p *serverProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.log.Close()
}
