package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
)

// The crash test runs workers in child processes: this test binary, re-executed with
// -test.run=^TestHelperProcess$ and these variables set.
const (
	envHelperMode = "BECKON_JOBS_HELPER"     // "hang" or "finish"
	envHelperDir  = "BECKON_JOBS_HELPER_DIR" // the SQLite data folder, also holding the marker files
	markerFile    = "started"                // written by the hanging handler
	effectsFile   = "effects"                // one line per completed side effect
)

// TestHelperProcess is not a test: it is the worker process of TestCrashRescue. In mode "hang"
// its handler for kind "slow" writes a marker and then hangs, ignoring its context, until the
// process is killed; in mode "finish" it records its side effect and succeeds.
func TestHelperProcess(t *testing.T) {
	mode, dir := os.Getenv(envHelperMode), os.Getenv(envHelperDir)
	if mode == "" {
		t.Skip("helper process for TestCrashRescue")
	}
	// Never outlive a vanished parent by long.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	q := New(d, clock.System{}, slog.New(slog.NewTextHandler(os.Stderr, nil)), Options{
		Workers: 1, Lease: time.Second, PollInterval: 20 * time.Millisecond, WorkerID: mode,
	})
	q.Register("slow", func(ctx context.Context, j *Job) error {
		switch mode {
		case "hang":
			if err := os.WriteFile(filepath.Join(dir, markerFile), []byte(j.ID), 0o600); err != nil {
				return err
			}
			time.Sleep(30 * time.Second) // hung, ignoring ctx: SIGKILL ends it (or, if the parent vanished, time)
			return nil
		case "finish":
			f, err := os.OpenFile(filepath.Join(dir, effectsFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString(j.ID + "\n")
			return err
		}
		return Permanent(errors.New("unknown helper mode " + mode))
	}, 5)
	if err := q.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// helper is a running worker child process.
type helper struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

func startHelper(t *testing.T, mode, dir string) *helper {
	t.Helper()
	h := &helper{done: make(chan error, 1)}
	h.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	h.cmd.Env = append(os.Environ(), envHelperMode+"="+mode, envHelperDir+"="+dir)
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	t.Cleanup(func() {
		_ = h.cmd.Process.Kill() // harmless when it has exited
		select {
		case <-h.done:
		case <-time.After(2 * time.Second):
		}
		if t.Failed() {
			t.Logf("output of helper %q:\n%s", mode, h.out.String())
		}
	})
	return h
}

// wait waits for the child to exit, at most timeout.
func (h *helper) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(timeout):
		t.Fatalf("helper did not exit within %s", timeout)
		return nil
	}
}

// TestCrashRescue kills a worker process in the middle of a job and checks that another process
// rescues the job once its lease has passed, runs it to success, and that the side effect
// happened once.
func TestCrashRescue(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	q := New(d, clock.System{}, nil, Options{})
	q.Register("slow", func(context.Context, *Job) error { return nil }, 5)
	id, err := q.Enqueue(ctx, d, NewJob{WorkspaceID: "ws_a", Kind: "slow"})
	if err != nil {
		t.Fatal(err)
	}

	first := startHelper(t, "hang", dir)
	// Bounded waits, 7+2+7+3 s at most, keep the test under 20 s even when it fails.
	waitFor(t, 7*time.Second, "the first worker to start the job", func() bool {
		_, err := os.Stat(filepath.Join(dir, markerFile))
		return err == nil
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := first.wait(t, 2*time.Second); err == nil {
		t.Fatal("first worker exited cleanly; want killed")
	}
	j := mustGet(t, q, "ws_a", id)
	if j.State != Running || j.Attempts != 1 || j.LockedBy != "hang" {
		t.Fatalf("after the crash: %+v; want running, attempt 1, held by hang", j)
	}

	second := startHelper(t, "finish", dir)
	waitFor(t, 7*time.Second, "the second worker to finish the job", func() bool {
		j = mustGet(t, q, "ws_a", id)
		return j.State == Succeeded
	})
	if err := second.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(t, 3*time.Second); err != nil {
		t.Errorf("second worker did not stop cleanly: %v", err)
	}

	if j.Attempts != 2 || j.LockedBy != "finish" {
		t.Errorf("attempts %d, locked_by %q; want 2, finish", j.Attempts, j.LockedBy)
	}
	if !strings.Contains(j.LastError, "lease of worker hang expired during attempt 1") {
		t.Errorf("last_error = %q", j.LastError)
	}
	effects, err := os.ReadFile(filepath.Join(dir, effectsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSpace(string(effects)), "\n"); len(got) != 1 || got[0] != id {
		t.Errorf("side effects = %q, want %s once", got, id)
	}
}
