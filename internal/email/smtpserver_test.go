package email_test

import (
	"net/smtp"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/testkit"
)

// The tests above trust testkit's decoding; this checks it on a message go-mail did not write,
// sent with the standard library's client.
func TestTestkitSMTPServerDecodes(t *testing.T) {
	srv := testkit.NewSMTPServer(t)
	raw := strings.ReplaceAll(`From: Someone <someone@example.net>
To: ada@example.com
Subject: =?utf-8?b?Q2Fmw6kg4piV?= and =?utf-8?q?d=C3=A9j=C3=A0?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

SGVsbG8sCmNhZsOpIQo=
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Hello, caf=C3=A9! A soft=
 break.</p>
--inner--
--outer
Content-Type: application/pdf; name="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="
Content-Disposition: attachment
Content-Transfer-Encoding: base64

JVBERi0=
--outer--
`, "\n", "\r\n")
	if err := smtp.SendMail(srv.Addr, nil, "someone@example.net", []string{"ada@example.com"}, []byte(raw)); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	got := srv.WaitFor(t, 1, wait)[0]
	if got.Err != nil {
		t.Fatal(got.Err)
	}
	if got.Subject != "Café ☕ and déjà" {
		t.Errorf("subject = %q", got.Subject)
	}
	if got.Text != "Hello,\ncafé!\n" {
		t.Errorf("text = %q", got.Text)
	}
	if got.HTML != "<p>Hello, café! A soft break.</p>" {
		t.Errorf("html = %q", got.HTML)
	}
	if len(got.Parts) != 3 {
		t.Fatalf("%d parts, want 3", len(got.Parts))
	}
	if p := got.Parts[2]; p.Disposition != "attachment" || p.Filename != "résumé.pdf" || p.MediaType != "application/pdf" || string(p.Data) != "%PDF-" {
		t.Errorf("attachment = %q %q %q %q", p.Disposition, p.Filename, p.MediaType, p.Data)
	}
}
