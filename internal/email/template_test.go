package email_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/errs"
)

func invite() email.InviteData {
	return email.InviteData{
		WorkspaceName: "Acme",
		InviterName:   "Grace Hopper",
		RecipientName: "Ada",
		ActivationURL: "https://beckon.example/activate?token=abc123&x=1",
		ExpiresAt:     "Mon, 9 Mar 2026 14:00 UTC",
	}
}

func TestRenderInvite(t *testing.T) {
	subject, text, html, err := email.Render("invite", invite())
	if err != nil {
		t.Fatal(err)
	}
	if subject != "You're invited to Acme on Beckon" {
		t.Errorf("subject = %q", subject)
	}
	for _, want := range []string{
		"Hi Ada,",
		"Grace Hopper has invited you to join Acme on Beckon",
		"\nhttps://beckon.example/activate?token=abc123&x=1\n",
		"valid until Mon, 9 Mar 2026 14:00 UTC",
		"If you weren't expecting this invitation, you can ignore this email",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{
		"<!DOCTYPE html>",
		"Hi Ada,",
		"Grace Hopper has invited you to join <strong>Acme</strong>",
		`<a href="https://beckon.example/activate?token=abc123&amp;x=1">`,
		"valid until Mon, 9 Mar 2026 14:00 UTC",
		"If you weren't expecting this invitation",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q:\n%s", want, html)
		}
	}
	// The rendered parts make a valid message.
	m := email.Message{To: []string{"ada@example.com"}, Subject: subject, Text: text, HTML: html}
	if err := m.Validate(); err != nil {
		t.Errorf("rendered invite does not validate: %v", err)
	}
}

func TestRenderInviteEscapesHTML(t *testing.T) {
	d := invite()
	d.WorkspaceName = `<b>Acme & "Co"</b>`
	d.InviterName = `<script>alert('x')</script>`
	d.RecipientName = `<img src=x onerror=alert(1)>`
	subject, text, html, err := email.Render("invite", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<img", "<b>Acme"} {
		if strings.Contains(html, bad) {
			t.Errorf("html contains unescaped %q:\n%s", bad, html)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", "&lt;b&gt;Acme &amp; &#34;Co&#34;&lt;/b&gt;", "&lt;img src=x onerror=alert(1)&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks escaped %q:\n%s", want, html)
		}
	}
	// The text part and the subject are plain text: names appear as typed.
	if subject != `You're invited to <b>Acme & "Co"</b> on Beckon` {
		t.Errorf("subject = %q", subject)
	}
	if !strings.Contains(text, `<script>alert('x')</script> has invited you`) {
		t.Errorf("text does not show the inviter as typed:\n%s", text)
	}
}

func TestRenderInviteEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*email.InviteData)
		test func(t *testing.T, subject, text, html string)
	}{
		{"no recipient or inviter name", func(d *email.InviteData) { d.RecipientName, d.InviterName = "", "" },
			func(t *testing.T, subject, text, html string) {
				if !strings.Contains(text, "Hi there,") || !strings.Contains(text, "You have been invited to join Acme") {
					t.Errorf("text:\n%s", text)
				}
				if !strings.Contains(html, "Hi there,") {
					t.Errorf("html:\n%s", html)
				}
			}},
		{"line breaks in the workspace name stay out of the subject", func(d *email.InviteData) { d.WorkspaceName = "Acme\r\nBcc: eve@example.com" },
			func(t *testing.T, subject, text, html string) {
				if strings.ContainsAny(subject, "\r\n") || subject != "You're invited to Acme Bcc: eve@example.com on Beckon" {
					t.Errorf("subject = %q", subject)
				}
			}},
		{"a javascript link is neutralised in HTML", func(d *email.InviteData) { d.ActivationURL = "javascript:alert(1)" },
			func(t *testing.T, subject, text, html string) {
				if strings.Contains(html, `href="javascript:`) || !strings.Contains(html, `href="#ZgotmplZ"`) {
					t.Errorf("html:\n%s", html)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := invite()
			tt.mod(&d)
			subject, text, html, err := email.Render("invite", d)
			if err != nil {
				t.Fatal(err)
			}
			tt.test(t, subject, text, html)
		})
	}
}

func TestRenderErrors(t *testing.T) {
	if _, _, _, err := email.Render("password_reset", invite()); err == nil {
		t.Error("unknown template rendered")
	}
	if _, _, _, err := email.Render("invite", struct{ WorkspaceName string }{"Acme"}); err == nil {
		t.Error("invite rendered with fields missing")
	}
	if _, _, _, err := email.Render("invite", map[string]string{"WorkspaceName": "Acme"}); err == nil {
		t.Error("invite rendered from a map with keys missing")
	}
}

func TestTemplates(t *testing.T) {
	if got := email.Templates(); !slices.Contains(got, "invite") || slices.Contains(got, "layout") {
		t.Errorf("Templates() = %v", got)
	}
}

// TestEveryTemplatePreviews: every template has a description and sample data, and its preview
// renders a subject, a text part and (where it has one) an HTML part.
func TestEveryTemplatePreviews(t *testing.T) {
	list := email.TemplateList()
	if len(list) != len(email.Templates()) {
		t.Fatalf("TemplateList %v, Templates %v", list, email.Templates())
	}
	for _, info := range list {
		if info.Description == "" {
			t.Errorf("%s: no description (add it to samples in samples.go)", info.Name)
		}
		subject, text, html, err := email.Preview(info.Name)
		if err != nil || subject == "" || strings.TrimSpace(text) == "" || (info.HTML && !strings.Contains(html, "</html>")) {
			t.Errorf("%s: preview %q %q %v", info.Name, subject, text, err)
		}
	}
	if _, _, _, err := email.Preview("nope"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown template: %v", err)
	}
}
