package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
)

// Headers of a webhook delivery.
const (
	HeaderSignature = "Beckon-Signature" // t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=…]
	HeaderEvent     = "Beckon-Event"     // the event type, e.g. "conversation.waiting"
	HeaderDelivery  = "Beckon-Delivery"  // "dlv_…": the same on every attempt, for receivers' dedupe
)

// Sign returns the Beckon-Signature header value for body sent at t: one v1 signature per secret
// (two while a rotated secret still signs).
func Sign(t time.Time, body []byte, secrets ...[]byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, sec := range secrets {
		m := hmac.New(sha256.New, sec)
		m.Write([]byte(ts))
		m.Write([]byte("."))
		m.Write(body)
		b.WriteString(",v1=" + hex.EncodeToString(m.Sum(nil)))
	}
	return b.String()
}

// Verify checks a Beckon-Signature header against body and secret, as a receiver does: one of its
// v1 signatures must match, and its time must be within tolerance of now (replays of old
// deliveries are refused). It returns errs.Unauthenticated when the signature is missing, wrong or
// too old.
func Verify(header string, body []byte, secret []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errs.E(errs.Unauthenticated, "malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errs.E(errs.Unauthenticated, "signature timestamp is outside the tolerance")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errs.E(errs.Unauthenticated, "no signature matches")
}
