// Package build bundles and minifies the messenger's TypeScript and CSS with esbuild's Go API:
// no Node.js. go generate runs it through ../gen to write ../dist; the widget tests run it in
// process to prove that dist is current. Keeping it apart from package widget keeps esbuild out
// of the beckon binary.
package build

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/beckonhq/beckon/internal/scriptbuild"
	"github.com/evanw/esbuild/pkg/api"
)

// The files Build makes, by their names in dist/.
const (
	LoaderFile    = "beckon.js"
	MessengerFile = "messenger.js"
	CSSFile       = "messenger.css"
	ManifestFile  = "manifest.json"
)

// Hash is the content hash that versions a built file's URL: the first 12 hex digits of its
// SHA-256. Package widget computes the same.
func Hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:12]
}

// GzipSize is the size of b compressed with gzip at its best level (gzip -9), as the budgets count.
func GzipSize(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Len()
}

// Entry describes one built file in the manifest.
type Entry struct {
	Hash  string `json:"hash"`
	Bytes int    `json:"bytes"`
	Gzip  int    `json:"gzip"`
}

// Build builds the sources in dir/src (dir is internal/widget) and returns the contents of every
// file of dist/, by name: the loader, the messenger (with its stylesheet inside), the stylesheet
// alone (the fallback for browsers without constructable stylesheets) and the manifest. The
// stylesheet is built first so that its text and hash can be defined into the messenger, and
// the messenger before the loader, which names the messenger's hash.
func Build(dir string) (map[string][]byte, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	src := filepath.Join(dir, "src")
	css, err := bundle(dir, filepath.Join(src, "messenger.css"), nil)
	if err != nil {
		return nil, err
	}
	cssText, err := json.Marshal(strings.TrimSpace(string(css)))
	if err != nil {
		return nil, err
	}
	messenger, err := bundle(dir, filepath.Join(src, "messenger.ts"), map[string]string{
		"__CSS__":      string(cssText),
		"__CSS_HASH__": quote(Hash(css)),
	})
	if err != nil {
		return nil, err
	}
	loader, err := bundle(dir, filepath.Join(src, "loader.ts"), map[string]string{
		"__MESSENGER_HASH__": quote(Hash(messenger)),
	})
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{LoaderFile: loader, MessengerFile: messenger, CSSFile: css}
	manifest := map[string]Entry{}
	for name, b := range files {
		manifest[name] = Entry{Hash: Hash(b), Bytes: len(b), Gzip: GzipSize(b)}
	}
	m, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return nil, err
	}
	files[ManifestFile] = append(m, '\n')
	return files, nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// bundle builds one entry point: bundled, minified, ES2019, an IIFE for scripts.
func bundle(dir, entry string, define map[string]string) ([]byte, error) {
	return scriptbuild.Bundle(entry, scriptbuild.Options{Dir: dir, Outdir: filepath.Join(dir, "dist"), Target: api.ES2019, Define: define})
}
