// Package build bundles the console's TypeScript (internal/web/ui/src) with esbuild's Go API: no
// Node.js. go generate runs it through ../gen to write internal/web/static; the ui tests run it in
// process to prove that the committed files are current. Keeping it apart keeps esbuild out of
// the beckon binary.
package build

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// Entries maps each built file (its name in internal/web/static) to its entry point in src/.
var Entries = map[string]string{
	"inbox.js": "inbox.ts",
	"live.js":  "live.ts",
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

func bundle(dir, entry string) ([]byte, error) {
	res := api.Build(api.BuildOptions{
		AbsWorkingDir:     dir,
		EntryPoints:       []string{entry},
		Bundle:            true,
		Write:             false,
		Outdir:            filepath.Join(dir, "out"),
		Format:            api.FormatIIFE,
		Platform:          api.PlatformBrowser,
		Target:            api.ES2020,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		LegalComments:     api.LegalCommentsNone,
		Charset:           api.CharsetASCII,
		LogLevel:          api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		var msgs []string
		for _, m := range api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage}) {
			msgs = append(msgs, strings.TrimSpace(m))
		}
		return nil, fmt.Errorf("esbuild %s:\n%s", filepath.Base(entry), strings.Join(msgs, "\n"))
	}
	if len(res.Warnings) > 0 {
		var msgs []string
		for _, m := range api.FormatMessages(res.Warnings, api.FormatMessagesOptions{Kind: api.WarningMessage}) {
			msgs = append(msgs, strings.TrimSpace(m))
		}
		return nil, fmt.Errorf("esbuild %s (warnings are errors here):\n%s", filepath.Base(entry), strings.Join(msgs, "\n"))
	}
	if len(res.OutputFiles) != 1 {
		return nil, errors.New("esbuild " + filepath.Base(entry) + ": expected one output file")
	}
	return res.OutputFiles[0].Contents, nil
}
