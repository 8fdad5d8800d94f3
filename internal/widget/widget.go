// Package widget holds the scripts a customer's website runs: the loader (/js/beckon.js), the
// messenger it injects (/js/messenger.<hash>.js) and the messenger's fallback stylesheet
// (/js/messenger.<hash>.css), built from the TypeScript in src/ by esbuild (go generate; see
// build/) and embedded from dist/, plus the snippet that integrators paste (docs/SNIPPET.md).
// How the server serves and caches them is in docs/MESSENGER-PROTOCOL.md.
package widget

//go:generate go run ./gen

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"html"
	"strings"
	"sync"
)

//go:embed dist/beckon.js dist/messenger.js dist/messenger.css
var dist embed.FS

type asset struct {
	body []byte
	hash string
	gzip int
}

var assets = sync.OnceValue(func() map[string]asset {
	m := map[string]asset{}
	for _, name := range []string{"beckon.js", "messenger.js", "messenger.css"} {
		b, err := dist.ReadFile("dist/" + name)
		if err != nil {
			panic("widget: " + err.Error()) // embedded at build time; cannot happen
		}
		m[name] = asset{body: b, hash: contentHash(b)}
	}
	return m
})

// contentHash is the first 12 hex digits of b's SHA-256, as build.Hash computes it.
func contentHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:12]
}

// Loader returns the loader script served at /js/beckon.js and its content hash, the v= of the
// snippet's URL. The bytes are shared: do not modify them.
func Loader() ([]byte, string) {
	a := assets()["beckon.js"]
	return a.body, a.hash
}

// Messenger returns the messenger script and its content hash; it is served at
// /js/messenger.<hash>.js, the URL the loader injects. The bytes are shared: do not modify them.
func Messenger() ([]byte, string) {
	a := assets()["messenger.js"]
	return a.body, a.hash
}

// Stylesheet returns the messenger's stylesheet and its content hash; it is served at
// /js/messenger.<hash>.css for browsers without constructable stylesheets (the messenger
// normally carries the same CSS inside). The bytes are shared: do not modify them.
func Stylesheet() ([]byte, string) {
	a := assets()["messenger.css"]
	return a.body, a.hash
}

var sizes = sync.OnceValues(func() (int, int) {
	l, _ := Loader()
	m, _ := Messenger()
	return gzipSize(l), gzipSize(m)
})

// Sizes returns the gzip -9 sizes in bytes of the loader and of the messenger (which carries its
// stylesheet): the figures of the M6 budgets.
func Sizes() (loaderGzip, messengerGzip int) {
	return sizes()
}

// snippetScript is the inline part of the snippet. It is the same for every site (the site id
// and URL are attributes of the second tag), so a strict CSP can allow it by its hash.
const snippetScript = `window.beckon=window.beckon||function(){(beckon.q=beckon.q||[]).push(arguments)};`

// SnippetCSPHash returns the CSP source that allows the snippet's inline script,
// "'sha256-…'", for sites whose script-src has no 'unsafe-inline'.
func SnippetCSPHash() string {
	s := sha256.Sum256([]byte(snippetScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(s[:]) + "'"
}

// Snippet returns the HTML that integrators paste into their pages: an inline script that
// defines the window.beckon(...) command queue, and an async script tag that loads the loader
// from baseURL (the Beckon server's public URL, e.g. "https://beckon.example"; a trailing slash
// is dropped) for the workspace's public siteID. Nothing from the arguments reaches a script:
// both go into attributes, HTML-escaped, so any value is inert.
func Snippet(baseURL, siteID string) string {
	_, hash := Loader()
	src := strings.TrimRight(strings.TrimSpace(baseURL), "/") + "/js/beckon.js?v=" + hash
	return "<!-- Beckon -->\n" +
		"<script>" + snippetScript + "</script>\n" +
		`<script async src="` + html.EscapeString(src) + `" data-site="` + html.EscapeString(siteID) + `"></script>` + "\n"
}

// gzipSize is the size of b compressed by gzip at its best level, like gzip -9.
func gzipSize(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Len()
}
