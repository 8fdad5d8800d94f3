// Command gen builds the messenger's scripts into dist/ (run by go generate in internal/widget).
package main

import (
	"fmt"

	"github.com/beckonhq/beckon/internal/scriptbuild"
	"github.com/beckonhq/beckon/internal/widget/build"
)

func main() {
	scriptbuild.Generate(build.Build, "dist", func(name string, b []byte) {
		fmt.Printf("dist/%s: %d bytes, %d gzipped\n", name, len(b), build.GzipSize(b))
	})
}
