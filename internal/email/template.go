package email

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"

	"github.com/beckonhq/beckon/internal/errs"
)

func notFoundTemplate(name string) error { return errs.NotFoundf("no email template %q", name) }

// templateFS holds the message templates. A template "name" is the file templates/name.txt,
// executed with text/template, which must define "subject" and whose body is the text part;
// and optionally templates/name.html, executed with html/template inside templates/layout.html,
// which must define "content". Adding a template means adding these files, nothing else.
//
//go:embed templates
var templateFS embed.FS

// InviteData fills the "invite" template.
type InviteData struct {
	WorkspaceName string
	InviterName   string // may be empty
	RecipientName string // may be empty: "Hi there"
	ActivationURL string
	ExpiresAt     string // already formatted for the recipient, e.g. "Mon, 9 Mar 2026 14:00 UTC"
}

type templatePair struct {
	text *texttemplate.Template
	html *htmltemplate.Template // nil for a text-only message
}

// templates is parsed once at start; a broken template fails every test of this package.
var templates = mustParseTemplates(templateFS)

func mustParseTemplates(fsys fs.FS) map[string]templatePair {
	t, err := parseTemplates(fsys)
	if err != nil {
		panic(err)
	}
	return t
}

func parseTemplates(fsys fs.FS) (map[string]templatePair, error) {
	layout, err := htmltemplate.ParseFS(fsys, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("email: templates: %w", err)
	}
	if layout.Lookup("layout") == nil {
		return nil, fmt.Errorf("email: templates: layout.html does not define \"layout\"")
	}
	out := map[string]templatePair{}
	texts, err := fs.Glob(fsys, "templates/*.txt")
	if err != nil {
		return nil, fmt.Errorf("email: templates: %w", err)
	}
	for _, p := range texts {
		name := strings.TrimSuffix(path.Base(p), ".txt")
		tt, err := texttemplate.New(path.Base(p)).Option("missingkey=error").ParseFS(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("email: template %s: %w", name, err)
		}
		if tt.Lookup("subject") == nil {
			return nil, fmt.Errorf("email: template %s: %s does not define \"subject\"", name, p)
		}
		out[name] = templatePair{text: tt}
	}
	htmls, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("email: templates: %w", err)
	}
	for _, p := range htmls {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" {
			continue
		}
		pair, ok := out[name]
		if !ok {
			return nil, fmt.Errorf("email: template %s: %s has no %s.txt beside it", name, p, name)
		}
		base, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("email: template %s: %w", name, err)
		}
		ht, err := base.Option("missingkey=error").ParseFS(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("email: template %s: %w", name, err)
		}
		if ht.Lookup("content") == nil {
			return nil, fmt.Errorf("email: template %s: %s does not define \"content\"", name, p)
		}
		pair.html = ht
		out[name] = pair
	}
	return out, nil
}

// Render fills the named template with data and returns the subject (on one line, runs of
// white space collapsed), the text body, and the HTML body ("" when the template has none).
// Values in the HTML body are escaped by html/template; a link that is not http(s) or mailto
// becomes "#ZgotmplZ". An unknown name or a failing template is an Internal error: both are
// programming mistakes.
func Render(name string, data any) (subject, text, html string, err error) {
	p, ok := templates[name]
	if !ok {
		return "", "", "", fmt.Errorf("email: render: no template %q", name)
	}
	var b strings.Builder
	if err := p.text.ExecuteTemplate(&b, "subject", data); err != nil {
		return "", "", "", fmt.Errorf("email: render %s subject: %w", name, err)
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := p.text.Execute(&b, data); err != nil {
		return "", "", "", fmt.Errorf("email: render %s text: %w", name, err)
	}
	text = b.String()
	if p.html != nil {
		b.Reset()
		if err := p.html.ExecuteTemplate(&b, "layout", data); err != nil {
			return "", "", "", fmt.Errorf("email: render %s html: %w", name, err)
		}
		html = b.String()
	}
	return subject, text, html, nil
}

// Templates lists the names Render accepts, sorted.
func Templates() []string {
	return slices.Sorted(maps.Keys(templates))
}
