package timezone

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"Europe/Berlin", true}, {"America/St_Johns", true}, {"Asia/Kathmandu", true}, {"Australia/Eucla", true},
		{"UTC", true}, {"US/Pacific", true},
		{"", false}, {"Local", false}, {"Mars/Olympus", false}, {"../../etc/passwd", false}, {"/etc/localtime", false},
		{"Europe/Berlin ", false}, {strings.Repeat("A", 100), false},
	} {
		if err := Validate("time_zone", tc.name); (err == nil) != tc.ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestNamesAllLoad(t *testing.T) {
	if len(Names()) < 300 {
		t.Fatalf("only %d zones", len(Names()))
	}
	for _, n := range Names() {
		if err := Validate("tz", n); err != nil {
			t.Errorf("listed zone %q does not validate: %v", n, err)
		}
	}
}

// TestGeneratedIsCurrent fails when the toolchain's tzdata changed and `go generate` was not rerun.
func TestGeneratedIsCurrent(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "lib", "time", "update.bash"))
	if err != nil {
		t.Skip("toolchain source not available")
	}
	if !strings.Contains(string(b), "DATA="+TZDataVersion+"\n") {
		t.Fatalf("zones_gen.go is for tzdata %s but the toolchain has another: run go generate ./internal/timezone", TZDataVersion)
	}
}
