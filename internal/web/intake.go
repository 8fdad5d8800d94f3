package web

import (
	"context"
	"strings"

	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/spam"
)

// The spam defences of what visitors submit (E1, E4): every address a visitor types in the
// messenger or a form goes through the workspace's email policy; names and addresses that look
// like keyboard mashing, bursts of new addresses from one unknown domain and filled-in honeypot
// fields are refused. Each refusal is counted for the admins (spam.Refusals) and answered with
// a message a real person can act on.

// Refusal reasons counted besides the validator's codes.
const (
	RefusedHoneypot    = "honeypot"
	RefusedGibberish   = "gibberish"
	RefusedDomainBurst = "domain_burst"
	RefusedRateIP      = "rate_limit_ip"
	RefusedRateVisitor = "rate_limit_visitor"
)

// nameFields are the visitor fields checked for gibberish, and how.
var nameFields = map[string]spam.Kind{
	"first_name": spam.Name, "last_name": spam.Name, "name": spam.Name, "full_name": spam.Name, "company": spam.Company,
}

// submission is what a visitor submitted through one of the messenger's forms or the site's.
type submission struct {
	wsID     string
	values   map[string]string // visitor fields by key; "email" is normalized in place when accepted
	honeypot string            // the hidden field's value: empty for a person
	field    string            // the input the email came from, for the error ("email", "text")
}

// screen applies the defences to sub. It returns an errs.Invalid error about the field at fault
// with a message for the visitor, having counted the refusal; nil when sub may be stored.
func (s *Server) screen(ctx context.Context, sub submission) error {
	ws := struct{ ID string }{sub.wsID}
	if strings.TrimSpace(sub.honeypot) != "" {
		s.refuse(ctx, ws.ID, RefusedHoneypot, "")
		return errs.Field(errs.Invalid, sub.field, "this looks automated, so it was not sent. If you are a person, please reload the page and try again")
	}
	for key, kind := range nameFields {
		v := sub.values[key]
		if v == "" {
			continue
		}
		if bad, why := spam.Gibberish(kind, v); bad {
			s.refuse(ctx, ws.ID, RefusedGibberish, key+": "+why)
			return errs.Field(errs.Invalid, key, "does not look like a real %s; please check it", strings.ReplaceAll(key, "_", " "))
		}
	}
	addr := sub.values["email"]
	if addr == "" {
		return nil
	}
	field := sub.field
	if field == "" {
		field = "email"
	}
	o, err := s.mailer()
	if err != nil {
		return err
	}
	res, err := o.Store().Check(ctx, ws.ID, addr)
	if err != nil {
		return err
	}
	if !res.Valid {
		code, msg := "invalid", "is not a valid email address"
		if len(res.Reasons) > 0 {
			code, msg = res.Reasons[0].Code, res.Reasons[0].Message
		}
		s.refuse(ctx, ws.ID, "email."+code, maskAddress(res.Normalized))
		return errs.Field(errs.Invalid, field, "%s", visitorMessage(code, msg))
	}
	local, domain, _ := strings.Cut(res.Normalized, "@")
	if bad, why := spam.Gibberish(spam.EmailLocal, local); bad {
		s.refuse(ctx, ws.ID, RefusedGibberish, "email: "+why)
		return errs.Field(errs.Invalid, field, "this email address does not look real; please check it")
	}
	p, err := o.Store().Policy(ctx, ws.ID)
	if err != nil {
		return err
	}
	if p.DomainBurst > 0 && !res.Personal && !allowedDomain(p.AllowDomains, domain) {
		if n := s.bursts.Seen(ws.ID, domain, res.Normalized, s.clock.Now()); spam.Burst(n, p.DomainBurst) {
			s.refuse(ctx, ws.ID, RefusedDomainBurst, domain)
			return errs.Field(errs.Invalid, field, "we are receiving many addresses from %s right now; please try again in a few minutes or use another address", domain)
		}
	}
	sub.values["email"] = res.Normalized
	return nil
}

// allowedDomain reports whether domain or a parent of it is on the list.
func allowedDomain(list []string, domain string) bool {
	for _, d := range list {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

// visitorMessage turns a validator refusal into words for the visitor.
func visitorMessage(code, msg string) string {
	switch code {
	case address.ReasonPersonal:
		return "please use your work email address"
	case address.ReasonDisposable:
		return "please use a permanent email address, not a disposable one"
	case address.ReasonBlockedDomain, address.ReasonBlockedAddress:
		return "this email address cannot be used here; please use another"
	case string(address.MXNotFound), string(address.MXNull):
		return "this email address's domain does not receive mail; please check it"
	}
	if msg == "" {
		return "is not a valid email address"
	}
	return msg
}

// maskAddress keeps what an admin needs to see of a refused address (its domain), not the person.
func maskAddress(a string) string {
	if _, d, ok := strings.Cut(a, "@"); ok {
		return "…@" + d
	}
	return ""
}

// refuse counts a refusal; counting never fails the request.
func (s *Server) refuse(ctx context.Context, wsID, reason, sample string) {
	if s.deps.Refusals != nil {
		s.deps.Refusals.Count(wsID, reason, sample)
	}
	s.metrics.refused(reason)
}
