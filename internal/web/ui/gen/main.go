// Command gen builds the console's scripts into internal/web/static (run by go generate in
// internal/web/ui).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/beckonhq/beckon/internal/web/ui/build"
)

func main() {
	files, err := build.Build(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join("..", "static", name), files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("static/%s: %d bytes\n", name, len(files[name]))
	}
}
