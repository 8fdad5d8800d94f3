// Command gen builds the console's scripts into internal/web/static (run by go generate in
// internal/web/ui).
package main

import (
	"fmt"
	"path/filepath"

	"github.com/beckonhq/beckon/internal/scriptbuild"
	"github.com/beckonhq/beckon/internal/web/ui/build"
)

func main() {
	scriptbuild.Generate(build.Build, filepath.Join("..", "static"), func(name string, b []byte) {
		fmt.Printf("static/%s: %d bytes\n", name, len(b))
	})
}
