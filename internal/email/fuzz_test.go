package email

import (
	"bytes"
	"mime"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzMessageHeaders checks that whatever subject and extra header Validate lets through, the
// message written on the wire parses, holds no header field the sender did not mean to write (no
// injected Bcc, no second Subject) and shows no line break in the subject or the extra header.
func FuzzMessageHeaders(f *testing.F) {
	f.Add("Hello", "X-Kind", "invite")
	f.Add("Hi\r\nBcc: eve@example.com", "X-Kind", "a\r\nBcc: eve@example.com")
	f.Add("Hi\nBcc: eve@example.com", "X-Kind", "a\nb")
	f.Add("=?utf-8?q?Bcc:_eve?=", "List-Unsubscribe", "<https://beckon.example/u?a=1>")
	f.Add("Déjà vu ✓ "+strings.Repeat("long words ", 30), "X-Name", "Ünïcode "+strings.Repeat("x", 200))
	f.Add("tab\there", "X-Empty", "")
	f.Add("Hi", "Bcc", "eve@example.com")
	f.Fuzz(func(t *testing.T, subject, name, value string) {
		m := Message{To: []string{"ada@example.com"}, Subject: subject, Text: "body", Headers: map[string]string{name: value}}
		if m.Validate() != nil {
			return
		}
		s := &smtpSender{from: "Beckon <beckon@example.test>"}
		msg, err := s.build(m)
		if err != nil {
			t.Fatalf("build of a valid message: %v", err)
		}
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			t.Fatalf("write: %v", err)
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("a valid message does not parse: %v\n%s", err, buf.Bytes())
		}
		want := map[string]bool{
			"Auto-Submitted": true, "Date": true, "Mime-Version": true, "Message-Id": true,
			"Subject": true, "From": true, "To": true, "Content-Type": true,
			"Content-Transfer-Encoding": true, textproto.CanonicalMIMEHeaderKey(name): true,
		}
		for k, v := range parsed.Header {
			if !want[k] {
				t.Fatalf("unexpected header %q in\n%s", k, buf.Bytes())
			}
			if len(v) != 1 {
				t.Fatalf("header %q appears %d times in\n%s", k, len(v), buf.Bytes())
			}
		}
		// A line break must not reach a reader either: go-mail would encode it as =0A, and a
		// mail client would show it after decoding. (Text that already looks like an encoded
		// word, "=?utf-8?q?=0A?=", is the caller's own doing and is left alone.)
		dec := new(mime.WordDecoder)
		for k, in := range map[string]string{"Subject": subject, textproto.CanonicalMIMEHeaderKey(name): value} {
			shown, err := dec.DecodeHeader(parsed.Header.Get(k))
			if err == nil && strings.ContainsAny(shown, "\r\n") && !strings.Contains(in, "=?") {
				t.Fatalf("%s shows a line break to the reader: %q from %q", k, shown, in)
			}
		}
	})
}

func TestParseTemplatesChecksTheSet(t *testing.T) {
	layout := `{{define "layout"}}<body>{{template "content" .}}</body>{{end}}`
	tests := []struct {
		name  string
		files map[string]string
		ok    bool
	}{
		{"text only", map[string]string{"templates/layout.html": layout, "templates/a.txt": `{{define "subject"}}S{{end}}T`}, true},
		{"text and html", map[string]string{"templates/layout.html": layout, "templates/a.txt": `{{define "subject"}}S{{end}}T`, "templates/a.html": `{{define "content"}}H{{end}}`}, true},
		{"no subject", map[string]string{"templates/layout.html": layout, "templates/a.txt": `T`}, false},
		{"html without text", map[string]string{"templates/layout.html": layout, "templates/a.txt": `{{define "subject"}}S{{end}}T`, "templates/b.html": `{{define "content"}}H{{end}}`}, false},
		{"html without content", map[string]string{"templates/layout.html": layout, "templates/a.txt": `{{define "subject"}}S{{end}}T`, "templates/a.html": `H`}, false},
		{"no layout", map[string]string{"templates/a.txt": `{{define "subject"}}S{{end}}T`}, false},
		{"syntax error", map[string]string{"templates/layout.html": layout, "templates/a.txt": `{{define "subject"}}S{{end}}{{.X`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for p, body := range tt.files {
				fsys[p] = &fstest.MapFile{Data: []byte(body)}
			}
			_, err := parseTemplates(fsys)
			if (err == nil) != tt.ok {
				t.Errorf("parseTemplates: err = %v, want ok = %v", err, tt.ok)
			}
		})
	}
}
