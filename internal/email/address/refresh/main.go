// Command refresh downloads the current personal (free-mail) and disposable email domain lists
// from the npm registry and rewrites the data files that package address embeds.
//
// Run it from anywhere inside the module:
//
//	go run ./internal/email/address/refresh
//
// For each source package it fetches <registry>/<package>/latest, downloads the tarball named
// there, checks its sha512 integrity, and takes the list (a JSON array of domains) and the licence
// out of it. Domains are normalised as package address reads them (lower case, A-labels turned
// into U-labels, invalid names dropped), sorted and de-duplicated; entries covered by a listed
// parent domain are pruned, and domains on the disposable list are taken off the personal list.
// It then rewrites data/personal.txt, data/disposable.txt, the licence files beside them and the
// "Sources" section of the package README. Hand-made additions belong in data/*.local.txt, which
// this command never touches.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/email/address"
	"golang.org/x/net/publicsuffix"
)

// source is one npm package that supplies a list.
type source struct {
	Package     string // npm package name
	ListPath    string // the JSON array of domains inside the tarball, below "package/"
	LicensePath string // the licence file inside the tarball, below "package/"
	Data        string // output file in the data directory
	License     string // output licence file in the data directory
	About       string // what the list holds, for the file header
}

var sources = []source{
	{
		Package:     "free-email-domains",
		ListPath:    "domains.json",
		LicensePath: "LICENSE.md",
		Data:        "personal.txt",
		License:     "free-email-domains.LICENSE.md",
		About:       "Free and personal email provider domains",
	},
	{
		Package:     "disposable-email-domains-js",
		ListPath:    "dist/dict/disposable_email_blocklist.json",
		LicensePath: "LICENSE",
		Data:        "disposable.txt",
		License:     "disposable-email-domains-js.LICENSE",
		About:       "Disposable (temporary) email domains",
	},
}

const maxDownload = 64 << 20 // bytes; today's tarballs are well under 1 MiB

func main() {
	registry := flag.String("registry", "https://registry.npmjs.org", "npm registry base URL")
	dir := flag.String("dir", "", "data directory to rewrite (default: internal/email/address/data in this module)")
	flag.Parse()
	if *dir == "" {
		root, err := moduleRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, "refresh:", err)
			os.Exit(1)
		}
		*dir = filepath.Join(root, "internal", "email", "address", "data")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := refresher{client: &http.Client{Timeout: 2 * time.Minute}, registry: strings.TrimSuffix(*registry, "/"), dir: *dir, out: os.Stdout, now: time.Now}
	if err := r.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "refresh:", err)
		os.Exit(1)
	}
}

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("no go.mod above the working directory; pass -dir")
		}
		d = up
	}
}

type refresher struct {
	client   *http.Client
	registry string
	dir      string // data directory; the README is its parent's README.md
	out      io.Writer
	now      func() time.Time
}

// fetched is what one source gave.
type fetched struct {
	source
	Version, SPDX, Integrity string
	Domains                  []string
	LicenseText              []byte
}

func (r refresher) run(ctx context.Context) error {
	if st, err := os.Stat(r.dir); err != nil || !st.IsDir() {
		return fmt.Errorf("data directory %s: not found", r.dir)
	}
	var got []fetched
	for _, s := range sources {
		f, err := r.fetch(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Package, err)
		}
		got = append(got, f)
	}
	personal, disposable := &got[0], &got[1]

	dispSet, dropped := normalize(disposable.Domains)
	r.report(disposable, len(dispSet), dropped)
	persSet, dropped := normalize(personal.Domains)
	moved := 0
	for d := range persSet {
		if covered(dispSet, d) {
			delete(persSet, d)
			moved++
		}
	}
	r.report(personal, len(persSet), dropped)
	fmt.Fprintf(r.out, "  %d of them are disposable and stay only on the disposable list\n", moved)

	date := r.now().UTC().Format("2006-01-02")
	for _, w := range []struct {
		f   *fetched
		set map[string]bool
	}{{personal, persSet}, {disposable, dispSet}} {
		if err := writeList(filepath.Join(r.dir, w.f.Data), w.f, date, w.set); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(r.dir, w.f.License), w.f.LicenseText, 0o644); err != nil {
			return err
		}
	}
	return updateReadme(filepath.Join(filepath.Dir(r.dir), "README.md"), got, date)
}

func (r refresher) report(f *fetched, kept int, dropped []string) {
	fmt.Fprintf(r.out, "%s %s (%s): %d upstream entries, %d kept", f.Package, f.Version, f.SPDX, len(f.Domains), kept)
	if len(dropped) > 0 {
		fmt.Fprintf(r.out, ", %d invalid dropped (e.g. %q)", len(dropped), dropped[:min(3, len(dropped))])
	}
	fmt.Fprintln(r.out)
}

// fetch reads the package's latest metadata, downloads and verifies its tarball, and extracts the
// list and the licence.
func (r refresher) fetch(ctx context.Context, s source) (fetched, error) {
	var meta struct {
		Version string `json:"version"`
		License string `json:"license"`
		Dist    struct {
			Tarball   string `json:"tarball"`
			Integrity string `json:"integrity"`
		} `json:"dist"`
	}
	body, err := r.get(ctx, r.registry+"/"+s.Package+"/latest")
	if err != nil {
		return fetched{}, err
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return fetched{}, fmt.Errorf("registry metadata: %w", err)
	}
	if meta.Version == "" || meta.Dist.Tarball == "" {
		return fetched{}, errors.New("registry metadata without version or tarball")
	}
	tgz, err := r.get(ctx, meta.Dist.Tarball)
	if err != nil {
		return fetched{}, err
	}
	if err := checkIntegrity(tgz, meta.Dist.Integrity); err != nil {
		return fetched{}, err
	}
	files, err := extract(tgz, "package/"+s.ListPath, "package/"+s.LicensePath)
	if err != nil {
		return fetched{}, err
	}
	list, lic := files["package/"+s.ListPath], files["package/"+s.LicensePath]
	if list == nil {
		return fetched{}, fmt.Errorf("tarball has no %s (did the package change its layout?)", s.ListPath)
	}
	if lic == nil {
		return fetched{}, fmt.Errorf("tarball has no %s", s.LicensePath)
	}
	var domains []string
	if err := json.Unmarshal(list, &domains); err != nil {
		return fetched{}, fmt.Errorf("%s: %w", s.ListPath, err)
	}
	if len(domains) == 0 {
		return fetched{}, fmt.Errorf("%s is empty", s.ListPath)
	}
	return fetched{source: s, Version: meta.Version, SPDX: meta.License, Integrity: meta.Dist.Integrity, Domains: domains, LicenseText: lic}, nil
}

func (r refresher) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(b) > maxDownload {
		return nil, fmt.Errorf("GET %s: over %d bytes", url, maxDownload)
	}
	return b, nil
}

// checkIntegrity verifies an npm "sha512-<base64>" Subresource Integrity string.
func checkIntegrity(b []byte, integrity string) error {
	want, ok := strings.CutPrefix(integrity, "sha512-")
	if !ok {
		return fmt.Errorf("tarball integrity %q is not sha512", integrity)
	}
	sum := sha512.Sum512(b)
	if base64.StdEncoding.EncodeToString(sum[:]) != want {
		return errors.New("tarball does not match its sha512 integrity")
	}
	return nil
}

// extract returns the named regular files of a gzipped tarball.
func extract(tgz []byte, names ...string) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(io.LimitReader(zr, maxDownload))
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tarball: %w", err)
		}
		if h.Typeflag != tar.TypeReg || !slices.Contains(names, h.Name) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("tarball %s: %w", h.Name, err)
		}
		files[h.Name] = b
	}
}

// normalize turns upstream entries into a set of lower-case Unicode domains, mapping each to
// whether it also covers its subdomains (false for public suffixes, as package address reads
// them), and prunes entries that a covering parent already matches. It returns the entries it
// could not read as a domain.
func normalize(entries []string) (set map[string]bool, dropped []string) {
	set = map[string]bool{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" || strings.HasPrefix(e, "#") {
			continue
		}
		u, a, err := address.ParseDomain(e)
		if err != nil || strings.HasPrefix(u, "[") {
			dropped = append(dropped, e)
			continue
		}
		ps, _ := publicsuffix.PublicSuffix(a)
		set[u] = ps != a
	}
	for d := range set {
		if coveredByParent(set, d) {
			delete(set, d)
		}
	}
	return set, dropped
}

// covered reports whether d, or a parent of d that covers its subdomains, is in set.
func covered(set map[string]bool, d string) bool {
	_, ok := set[d]
	return ok || coveredByParent(set, d)
}

// coveredByParent reports whether a parent of d that covers its subdomains is in set.
func coveredByParent(set map[string]bool, d string) bool {
	for i := 0; i < len(d); i++ {
		if d[i] == '.' {
			if sub, ok := set[d[i+1:]]; ok && sub {
				return true
			}
		}
	}
	return false
}

func writeList(path string, f *fetched, date string, set map[string]bool) error {
	domains := make([]string, 0, len(set))
	for d := range set {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s, one per line, lower-case Unicode (U-label) form.\n", f.About)
	fmt.Fprintf(&b, "# Source: npm package %s %s (%s), fetched %s; licence in %s.\n", f.Package, f.Version, f.SPDX, date, f.License)
	fmt.Fprintf(&b, "# Tarball integrity: %s\n", f.Integrity)
	fmt.Fprintf(&b, "# Generated by `go run ./internal/email/address/refresh`; do not edit: put changes in %s.\n", strings.TrimSuffix(f.Data, ".txt")+".local.txt")
	for _, d := range domains {
		b.WriteString(d)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

const (
	beginMark = "<!-- sources:begin (written by the refresh command) -->"
	endMark   = "<!-- sources:end -->"
)

// updateReadme rewrites the part of the README between the two markers with the sources' table.
func updateReadme(path string, got []fetched, date string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := string(old)
	i, j := strings.Index(text, beginMark), strings.Index(text, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s: markers %q and %q not found", path, beginMark, endMark)
	}
	var b strings.Builder
	b.WriteString(beginMark + "\n\n")
	b.WriteString("| data file | npm package | version | licence | fetched |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range got {
		fmt.Fprintf(&b, "| `data/%s` | [%s](https://www.npmjs.com/package/%s) | %s | %s (`data/%s`) | %s |\n",
			f.Data, f.Package, f.Package, f.Version, f.SPDX, f.License, date)
	}
	b.WriteString("\n")
	return os.WriteFile(path, []byte(text[:i]+b.String()+text[j:]), 0o644)
}
