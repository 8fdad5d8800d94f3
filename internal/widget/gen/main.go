// Command gen builds the messenger's scripts into dist/ (run by go generate in internal/widget).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/beckonhq/beckon/internal/widget/build"
)

func main() {
	files, err := build.Build(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.MkdirAll("dist", 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join("dist", name), files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("dist/%s: %d bytes, %d gzipped\n", name, len(files[name]), build.GzipSize(files[name]))
	}
}
