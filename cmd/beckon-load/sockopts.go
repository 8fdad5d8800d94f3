package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"
)

// sockFlags are the flags every socket scenario shares: where the server is and how to reach
// it, who the reps are, and the bounds of the run.
type sockFlags struct {
	data, url, site, origin string
	cookieFile, start       string
	pid, sources, par       int
	baseline, only          string
	duration, setupTimeout  time.Duration
}

func (o *sockFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.data, "data", "", "a data folder prepared by 'beckon-load setup': read -url, -site, -origin and the reps from its load.json")
	fs.StringVar(&o.url, "url", "", "the Beckon server (loopback only); default from -data")
	fs.StringVar(&o.site, "site", "", "the workspace's site id; default from -data")
	fs.StringVar(&o.origin, "origin", "", "an allowed origin of the workspace, sent as the visitors' Origin; default from -data")
	fs.StringVar(&o.cookieFile, "rep-cookie-file", "", "without -data: a file of logged-in reps' session cookies, one a line (name=value)")
	fs.StringVar(&o.start, "start", "", "with -data: start this beckon binary's 'serve' over the data folder for the run, and stop it after")
	fs.IntVar(&o.pid, "pid", 0, "the server's process id, to read its RSS from /proc (implied by -start; else /metrics is read)")
	fs.IntVar(&o.sources, "sources", 1, "loopback source addresses to dial from (127.0.0.1 … 127.0.0.N), when one address runs out of ports")
	fs.IntVar(&o.par, "par", 64, "setup steps (hellos, socket opens, accepts) in flight at once")
	fs.StringVar(&o.baseline, "baseline", "child", "where the bare WebSocket baseline server runs: child (a child process of this tool) or inprocess")
	fs.StringVar(&o.only, "only", "", "run one side only: beckon or baseline (the baseline needs no server)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long the measured phase runs (at most 5m)")
	fs.DurationVar(&o.setupTimeout, "setup-timeout", 5*time.Minute, "the most the setup of each side (hellos, sockets, accepts) may take (at most 30m)")
}

func (o *sockFlags) check() error {
	if o.duration <= 0 || o.duration > 5*time.Minute {
		return errors.New("-duration must be in (0, 5m]")
	}
	if o.setupTimeout <= 0 || o.setupTimeout > 30*time.Minute {
		return errors.New("-setup-timeout must be in (0, 30m]")
	}
	if o.par < 1 || o.par > 1024 {
		return errors.New("-par must be in [1, 1024]")
	}
	if o.baseline != "child" && o.baseline != "inprocess" {
		return errors.New("-baseline must be child or inprocess")
	}
	if o.only != "" && o.only != "beckon" && o.only != "baseline" {
		return errors.New("-only must be beckon or baseline")
	}
	if o.start != "" && o.data == "" {
		return errors.New("-start needs -data (the folder 'beckon-load setup' prepared)")
	}
	if o.cookieFile != "" && o.data != "" {
		return errors.New("give -data or -rep-cookie-file, not both")
	}
	if o.sources < 1 || o.sources > maxSources {
		return fmt.Errorf("-sources must be in [1, %d]", maxSources)
	}
	return nil
}

// sockRun is one scenario run's environment: the Beckon target (reps logged in), the dialers, and
// what to stop at the end.
type sockRun struct {
	beckon *target
	d      *dialers
	srv    *serverProc
	files  uint64 // the open-files limit in force
	notes  []string
}

func (r *sockRun) close() {
	if r.srv != nil {
		r.srv.stop()
	}
}

// prepare reads the flags' sources, starts the server when asked, and logs in `reps` reps (fewer
// cookies than reps are shared round-robin, like one rep's several console tabs).
func (o *sockFlags) prepare(ctx context.Context, reps int) (*sockRun, error) {
	r := &sockRun{files: raiseFileLimit()}
	var err error
	if r.d, err = newDialers(o.sources); err != nil {
		return nil, err
	}
	var lf *loadFile
	if o.data != "" {
		if o.data, err = filepath.Abs(o.data); err != nil {
			return nil, err
		}
		if lf, err = readLoadFile(o.data); err != nil {
			return nil, fmt.Errorf("-data: %w (run 'beckon-load setup -data %s' first)", err, o.data)
		}
		o.url = cmp.Or(o.url, lf.URL)
		o.site = cmp.Or(o.site, lf.SiteID)
		o.origin = cmp.Or(o.origin, lf.Origin)
	}
	if err := checkLoopback(o.url); err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if o.site == "" || o.origin == "" {
		return nil, errors.New("-site and -origin are required (or -data DIR)")
	}
	t := &target{Name: "beckon", URL: o.url, Site: o.site, Origin: o.origin, ConsoleOrigin: originOf(o.url), PID: o.pid, d: r.d}
	r.beckon = t
	if o.start != "" {
		if r.srv, err = startServer(ctx, o.start, o.data, lf, r.d); err != nil {
			return nil, err
		}
		t.PID = r.srv.cmd.Process.Pid
		r.notes = append(r.notes, fmt.Sprintf("server started by the tool: %s serve (pid %d), output in %s", o.start, t.PID, filepath.Join(o.data, "server.log")))
	}
	if reps == 0 {
		return r, nil
	}
	lctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	defer cancel()
	switch {
	case lf != nil:
		if len(lf.Reps) < reps {
			r.close()
			return nil, fmt.Errorf("%s has %d reps, the run needs %d: run 'beckon-load setup -data %s -reps %d'", o.data, len(lf.Reps), reps, o.data, reps)
		}
		t.Reps = make([]repSession, reps)
		// Make them reps (setup could only create admins), then log in like a browser. Logins
		// hash a password (about 150 ms of CPU each) and the server runs max(2, CPUs) at once.
		failed, err := forEach(lctx, reps, 4, func(ctx context.Context, j int) error {
			rep := lf.Reps[j]
			if lf.APIToken != "" && rep.UserID != "" {
				if err := setRole(ctx, r.d.client(j), o.url, lf.APIToken, rep.UserID, "rep"); err != nil {
					return err
				}
			}
			ck, err := login(ctx, r.d.client(j), o.url, rep.Email, lf.Password, repIP(j))
			if err != nil {
				return err
			}
			csrf, err := csrfToken(ctx, r.d.client(j), o.url, ck, repIP(j))
			t.Reps[j] = repSession{Email: rep.Email, Cookie: ck, CSRF: csrf}
			return err
		})
		if failed > 0 {
			r.close()
			return nil, fmt.Errorf("logging in reps: %d of %d failed, the first with: %w", failed, reps, err)
		}
	case o.cookieFile != "":
		cookies, err := readCookieFile(o.cookieFile)
		if err != nil {
			r.close()
			return nil, err
		}
		n := min(reps, len(cookies))
		t.Reps = make([]repSession, n)
		failed, err := forEach(lctx, n, 4, func(ctx context.Context, j int) error {
			csrf, err := csrfToken(ctx, r.d.client(j), o.url, cookies[j], repIP(j))
			t.Reps[j] = repSession{Email: fmt.Sprintf("cookie #%d", j+1), Cookie: cookies[j], CSRF: csrf}
			return err
		})
		if failed > 0 {
			r.close()
			return nil, fmt.Errorf("reading reps' CSRF tokens: %d of %d failed, the first with: %w", failed, n, err)
		}
		if n < reps {
			r.notes = append(r.notes, fmt.Sprintf("%d rep sockets share %d cookies round-robin", reps, n))
		}
	default:
		r.close()
		return nil, errors.New("reps need -data DIR (from 'beckon-load setup') or -rep-cookie-file FILE")
	}
	return r, nil
}

// baselineTarget starts the baseline and returns a target for it with reps (pretend) reps.
func (o *sockFlags) baselineTarget(ctx context.Context, d *dialers, reps int) (*target, func(), error) {
	b, err := startBaseline(ctx, o.baseline == "child")
	if err != nil {
		return nil, nil, err
	}
	t := &target{Name: "baseline", URL: b.URL, Site: "site_baseline", Origin: "http://127.0.0.1:18091", ConsoleOrigin: b.URL, PID: b.PID, d: d}
	if o.baseline == "inprocess" {
		t.PID = 0
	}
	for j := 0; j < max(1, reps); j++ {
		t.Reps = append(t.Reps, repSession{Email: fmt.Sprintf("rep%d@baseline", j), Cookie: "beckon_session=baseline", CSRF: "baseline"})
	}
	return t, b.stop, nil
}

// sides is a scenario's outcome on Beckon and on the baseline.
type sides[R any] struct {
	Beckon, Baseline       R
	BeckonErr, BaselineErr error
	files                  uint64
	notes                  []string
}

// runSides runs a scenario on Beckon (reps logged in), then on the baseline, or on the one side
// -only names. An error is returned only when a side could not be started at all.
func runSides[R any](ctx context.Context, o *sockFlags, reps int, do func(context.Context, *target) (R, error)) (*sides[R], error) {
	var out sides[R]
	var d *dialers
	if o.only != "baseline" {
		r, err := o.prepare(ctx, reps)
		if err != nil {
			return nil, err
		}
		out.Beckon, out.BeckonErr = do(ctx, r.beckon)
		r.close()
		d, out.files, out.notes = r.d, r.files, r.notes
	} else {
		out.files = raiseFileLimit()
		var err error
		if d, err = newDialers(o.sources); err != nil {
			return nil, err
		}
		out.BeckonErr = errors.New("not run (-only baseline)")
	}
	if o.only != "beckon" {
		bt, stop, err := o.baselineTarget(ctx, d, reps)
		if err != nil {
			return nil, err
		}
		out.Baseline, out.BaselineErr = do(ctx, bt)
		stop()
	} else {
		out.BaselineErr = errors.New("not run (-only beckon)")
	}
	return &out, nil
}

// report is the JSON a socket scenario prints: its own fields, then the sides' errors and the
// run's environment.
func (s *sides[R]) report(m map[string]any) map[string]any {
	addErr(m, "beckon_error", s.BeckonErr)
	addErr(m, "baseline_error", s.BaselineErr)
	m["open_files"], m["notes"] = s.files, s.notes
	m["generated_at"] = time.Now().UTC().Format(time.RFC3339)
	return m
}
