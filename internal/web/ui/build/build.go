// Package build bundles the console's TypeScript (internal/web/ui/src) with esbuild's Go API: no
// Node.js. go generate runs it through ../gen to write internal/web/static; the ui tests run it in
// process to prove that the committed files are current. Keeping it apart keeps esbuild out of
// the beckon binary.
package build

import (
	"path/filepath"

	"github.com/beckonhq/beckon/internal/scriptbuild"
	"github.com/evanw/esbuild/pkg/api"
)

// Entries maps each built file (its name in internal/web/static) to its entry point in src/.
var Entries = map[string]string{
	"inbox.js":          "inbox.ts",
	"live.js":           "live.ts",
	"routing.js":        "routing.ts",
	"routing_report.js": "routing_report.ts",
}

// Build builds every entry of dir/src (dir is internal/web/ui) and returns the built files by
// name: bundled, minified ES2020 scripts, each an IIFE that touches nothing global.
func Build(dir string) (map[string][]byte, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for name, entry := range Entries {
		b, err := bundle(dir, filepath.Join(dir, "src", entry))
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}

// bundle builds one entry point: bundled, minified, ES2020, an IIFE.
func bundle(dir, entry string) ([]byte, error) {
	return scriptbuild.Bundle(entry, scriptbuild.Options{Dir: dir, Outdir: filepath.Join(dir, "out"), Target: api.ES2020})
}
