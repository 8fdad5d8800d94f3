package ui

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/beckonhq/beckon/internal/web/ui/build"
)

// TestStaticIsCurrent builds src/ with esbuild in process and compares every built file with the
// one committed in internal/web/static.
func TestStaticIsCurrent(t *testing.T) {
	files, err := build.Build(".")
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if len(files) != len(build.Entries) {
		t.Fatalf("built %d files, want %d", len(files), len(build.Entries))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "static", name))
		if err != nil {
			t.Errorf("static/%s: %v; run go generate ./internal/web/ui", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("static/%s differs from a fresh build of src/; run go generate ./internal/web/ui", name)
		}
	}
}
