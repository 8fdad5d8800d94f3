package email_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/errs"
)

func TestLogSenderLogsTheLink(t *testing.T) {
	var buf bytes.Buffer
	s := email.NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)))
	subject, text, html, err := email.Render("invite", invite())
	if err != nil {
		t.Fatal(err)
	}
	m := email.Message{To: []string{"ada@example.com"}, Subject: subject, Text: text, HTML: html}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON record: %v\n%s", err, buf.String())
	}
	for key, want := range map[string]string{
		"level":   "INFO",
		"to":      "ada@example.com",
		"subject": subject,
		"text":    text,
		"link":    invite().ActivationURL,
	} {
		if got := rec[key]; got != want {
			t.Errorf("%s = %v, want %q", key, got, want)
		}
	}
}

func TestLogSenderLinksInTextFormat(t *testing.T) {
	var buf bytes.Buffer
	s := email.NewLogSender(slog.New(slog.NewTextHandler(&buf, nil)))
	m := email.Message{
		To:      []string{"ada@example.com", "bob@example.com"},
		Subject: "Links",
		Text:    "First https://beckon.example/a?t=1. Then (https://beckon.example/b) and http://localhost:8080/c\n",
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`link="https://beckon.example/a?t=1"`,
		`link_2=https://beckon.example/b `,
		`link_3=http://localhost:8080/c `,
		`to="ada@example.com, bob@example.com"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestLogSenderValidates(t *testing.T) {
	var buf bytes.Buffer
	s := email.NewLogSender(slog.New(slog.NewTextHandler(&buf, nil)))
	err := s.Send(context.Background(), email.Message{To: []string{"ada@example.com"}, Subject: "a\nb", Text: "x"})
	if !errs.Is(err, errs.Invalid) {
		t.Errorf("err = %v, want invalid", err)
	}
	if buf.Len() != 0 {
		t.Errorf("logged an invalid message: %s", buf.String())
	}
}
