package demo

import (
	"html/template"
	"net/http"
)

// siteTmpl is the demo customer website: Acme's own pages, on an origin of their own.
var siteTmpl = template.Must(template.New("site").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Analytics — turn data into decisions</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d2433;background:#f7f8fb}
header{background:#1d2a6b;color:#fff;padding:1rem 2rem;display:flex;justify-content:space-between;align-items:center}
header a{color:#fff;margin-left:1.5rem;text-decoration:none}
main{max-width:56rem;margin:3rem auto;padding:0 2rem}
h1{font-size:2.4rem;line-height:1.2}
.note{background:#fff;border:1px solid #dde2ee;border-radius:8px;padding:1rem 1.25rem;color:#4a5468}
</style>
</head>
<body>
<header><strong>Acme Analytics</strong><nav><a href="/">Home</a><a href="/">Pricing</a><a href="/">Contact</a></nav></header>
<main>
<h1>Turn your data into decisions.</h1>
<p>Acme Analytics gives revenue teams one place to see pipeline, forecast and win rates.</p>
<p class="note">This is the demo customer website of Beckon, served on a second origin ({{.}}), as a company's
own site would be. The Beckon messenger snippet is added to it when the messenger ships.</p>
</main>
</body>
</html>`))

// Site returns the handler of the demo customer website. siteURL is its own origin.
func Site(siteURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		siteTmpl.Execute(w, siteURL)
	})
	return mux
}
