package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// registry is a stand-in for registry.npmjs.org serving one version of each source package.
type registry struct {
	files    map[string]map[string]string // package → path in tarball → content
	badSum   bool
	requests []string
}

func (r *registry) handler(t *testing.T, base *string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests = append(r.requests, req.URL.Path)
		pkg, rest, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		files, ok := r.files[pkg]
		if !ok {
			http.NotFound(w, req)
			return
		}
		tgz := tarball(t, files)
		switch rest {
		case "latest":
			sum := sha512.Sum512(tgz)
			if r.badSum {
				sum[0]++
			}
			json.NewEncoder(w).Encode(map[string]any{
				"name": pkg, "version": "9.9.9", "license": "MIT",
				"dist": map[string]string{
					"tarball":   *base + "/" + pkg + "/-/" + pkg + "-9.9.9.tgz",
					"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sum[:]),
				},
			})
		case "-/" + pkg + "-9.9.9.tgz":
			w.Write(tgz)
		default:
			http.NotFound(w, req)
		}
	})
}

func tarball(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range slices.Sorted(maps.Keys(files)) { // the same bytes on every request
		content := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, content)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func setup(t *testing.T, reg *registry) (refresher, string) {
	var base string
	srv := httptest.NewServer(reg.handler(t, &base)) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	base = srv.URL
	pkgDir := t.TempDir()
	dataDir := filepath.Join(pkgDir, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	readme := "# x\n\nbefore\n\n" + beginMark + "\nold table\n" + endMark + "\n\nafter\n"
	if err := os.WriteFile(filepath.Join(pkgDir, "README.md"), []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC) }
	return refresher{client: srv.Client(), registry: base, dir: dataDir, out: io.Discard, now: now}, pkgDir
}

func TestRefresh(t *testing.T) {
	reg := &registry{files: map[string]map[string]string{
		"free-email-domains": {
			"domains.json": `["Gmail.com", "gmail.com", "mailinator.com", "sub.mailinator.com", "xn--bcher-kva.de",
				"mail.rr.com", "rr.com", "net.ua", "x.net.ua", "not a domain", "localhost", "", "web.de"]`,
			"LICENSE.md": "MIT licence of free-email-domains",
		},
		"disposable-email-domains-js": {
			"dist/dict/disposable_email_blocklist.json": `["mailinator.com", "a.mailinator.com", "YOPMAIL.com"]`,
			"LICENSE": "CC0 of disposable-email-domains-js",
		},
	}}
	r, pkgDir := setup(t, reg)
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(pkgDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	domains := func(text string) string {
		var out []string
		for _, line := range strings.Split(text, "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				out = append(out, line)
			}
		}
		return strings.Join(out, " ")
	}
	personal, disposable := read("data/personal.txt"), read("data/disposable.txt")
	// Lower-cased, U-labels, de-duplicated, sorted; invalid entries dropped; mailinator (and its
	// subdomain) only on the disposable list; x.net.ua kept because net.ua is a public suffix.
	if got, want := domains(personal), "bücher.de gmail.com net.ua rr.com web.de x.net.ua"; got != want {
		t.Errorf("personal.txt domains = %q, want %q", got, want)
	}
	if got, want := domains(disposable), "mailinator.com yopmail.com"; got != want {
		t.Errorf("disposable.txt domains = %q, want %q", got, want)
	}
	if !strings.Contains(personal, "# Source: npm package free-email-domains 9.9.9 (MIT), fetched 2026-11-21") {
		t.Errorf("personal.txt header:\n%s", personal)
	}
	if read("data/free-email-domains.LICENSE.md") != "MIT licence of free-email-domains" ||
		read("data/disposable-email-domains-js.LICENSE") != "CC0 of disposable-email-domains-js" {
		t.Error("licence files not copied")
	}
	readme := read("README.md")
	if strings.Contains(readme, "old table") || !strings.Contains(readme, "| `data/personal.txt` | [free-email-domains](https://www.npmjs.com/package/free-email-domains) | 9.9.9 | MIT") ||
		!strings.HasPrefix(readme, "# x\n\nbefore\n\n") || !strings.HasSuffix(readme, endMark+"\n\nafter\n") {
		t.Errorf("README:\n%s", readme)
	}
}

func TestRefreshRefusesBadDownloads(t *testing.T) {
	good := func() map[string]map[string]string {
		return map[string]map[string]string{
			"free-email-domains":          {"domains.json": `["gmail.com"]`, "LICENSE.md": "MIT"},
			"disposable-email-domains-js": {"dist/dict/disposable_email_blocklist.json": `["mailinator.com"]`, "LICENSE": "CC0"},
		}
	}
	tests := []struct {
		name   string
		change func(*registry)
		want   string
	}{
		{"integrity", func(r *registry) { r.badSum = true }, "integrity"},
		{"layout", func(r *registry) { delete(r.files["free-email-domains"], "domains.json") }, "layout"},
		{"licence", func(r *registry) { delete(r.files["disposable-email-domains-js"], "LICENSE") }, "LICENSE"},
		{"empty", func(r *registry) { r.files["free-email-domains"]["domains.json"] = "[]" }, "empty"},
		{"not json", func(r *registry) { r.files["free-email-domains"]["domains.json"] = "gmail.com" }, "domains.json"},
		{"missing package", func(r *registry) { delete(r.files, "free-email-domains") }, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := &registry{files: good()}
			tt.change(reg)
			r, pkgDir := setup(t, reg)
			err := r.run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error mentioning %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(pkgDir, "data", "personal.txt")); err == nil {
				t.Error("a data file was written despite the error")
			}
		})
	}
}
