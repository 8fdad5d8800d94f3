package demo

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

// The demo customer website: Acme Analytics' own pages, on an origin of their own, with the
// Beckon snippet pasted into every page as a customer would.
//
//go:embed site
var siteFiles embed.FS

var siteTmpl = template.Must(template.ParseFS(siteFiles, "site/*.html"))

// pages maps paths to templates. The app section is a single-page app: every /app/ path serves
// the same document, whose script routes on the client and calls beckon('page').
var pages = map[string]string{
	"/":         "home.html",
	"/pricing":  "pricing.html",
	"/contact":  "contact.html",
	"/thanks":   "thanks.html",
	"/app/":     "app.html",
	"/features": "features.html",
}

type pageData struct {
	Snippet template.HTML // the Beckon snippet, as the console gives it
	SiteURL string
	Path    string
}

// Site returns the handler of the demo customer website. snippet is the Beckon snippet for the
// demo workspace, inserted into every page; empty leaves it out.
func Site(siteURL string, snippet template.HTML) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(siteFiles, "site")
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	for path, tmpl := range pages {
		pattern := "GET " + path // "/app/" serves its whole subtree: the app routes on the client
		if path == "/" {
			pattern = "GET /{$}"
		}
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			siteTmpl.ExecuteTemplate(w, tmpl, pageData{Snippet: snippet, SiteURL: siteURL, Path: r.URL.Path})
		})
	}
	// The contact form posts here when JavaScript is off (or Beckon is down): it still works.
	mux.HandleFunc("POST /contact", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/thanks", http.StatusSeeOther)
	})
	return mux
}
