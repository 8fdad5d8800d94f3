// Package scriptbuild bundles the browser scripts and stylesheets of Beckon's TypeScript sources
// with esbuild's Go API (no Node.js) and writes the built files: the one esbuild step and the one
// go generate step that internal/widget/build and internal/web/ui/build share. Each of those keeps
// its own entry points, target, defines and output folder. Only the build packages, their
// generate commands and their tests import it, which keeps esbuild out of the beckon binary.
package scriptbuild

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// Options are what the builds of one set of sources share.
type Options struct {
	// Dir is the absolute working directory of the build.
	Dir string
	// Outdir names the folder the output belongs in; nothing is written there (Bundle returns it).
	Outdir string
	// Target is the JavaScript version the output may use, such as api.ES2019.
	Target api.Target
	// Define replaces identifiers with JavaScript expressions (nil: none).
	Define map[string]string
}

// Bundle builds the entry point (a .ts or .css file) into one file for browsers: bundled,
// minified, scripts as an IIFE that touches nothing global, ASCII only, without legal comments.
// It returns an error with esbuild's messages when the build has errors or warnings (warnings
// count as errors) and when it does not make exactly one file.
func Bundle(entry string, o Options) ([]byte, error) {
	res := api.Build(api.BuildOptions{
		AbsWorkingDir:     o.Dir,
		EntryPoints:       []string{entry},
		Bundle:            true,
		Write:             false,
		Outdir:            o.Outdir,
		Format:            api.FormatIIFE,
		Platform:          api.PlatformBrowser,
		Target:            o.Target,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		LegalComments:     api.LegalCommentsNone,
		Charset:           api.CharsetASCII,
		Define:            o.Define,
		LogLevel:          api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		return nil, fmt.Errorf("esbuild %s:\n%s", filepath.Base(entry), format(res.Errors, api.ErrorMessage))
	}
	if len(res.Warnings) > 0 {
		return nil, fmt.Errorf("esbuild %s (warnings are errors here):\n%s", filepath.Base(entry), format(res.Warnings, api.WarningMessage))
	}
	if len(res.OutputFiles) != 1 {
		return nil, errors.New("esbuild " + filepath.Base(entry) + ": expected one output file")
	}
	return res.OutputFiles[0].Contents, nil
}

// format renders esbuild's messages, one after another.
func format(msgs []api.Message, kind api.MessageKind) string {
	var out []string
	for _, m := range api.FormatMessages(msgs, api.FormatMessagesOptions{Kind: kind}) {
		out = append(out, strings.TrimSpace(m))
	}
	return strings.Join(out, "\n")
}

// Generate is the work of a go generate command: it builds the files with build(".") and writes
// each into dir (made when missing), in the order of their names, calling wrote after each (to
// print what it wrote). On an error it prints the error to stderr and exits with status 1.
func Generate(build func(dir string) (map[string][]byte, error), dir string, wrote func(name string, b []byte)) {
	if err := generate(build, dir, wrote); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func generate(build func(dir string) (map[string][]byte, error), dir string, wrote func(name string, b []byte)) error {
	files, err := build(".")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
		wrote(name, files[name])
	}
	return nil
}
