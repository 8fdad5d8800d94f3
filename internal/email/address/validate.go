package address

import (
	"context"
	"fmt"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
)

// Reason codes besides the syntax codes (Code*) and the MX statuses (mx_null, mx_not_found,
// mx_unknown). Reasons that refuse say so below; the others are facts noted on accepted addresses.
const (
	ReasonBlockedAddress = "blocked_address" // refuses: the address is on the block list
	ReasonBlockedDomain  = "blocked_domain"  // refuses: the domain or a parent is on the block list
	ReasonAllowedAddress = "allowed_address" // fact: accepted because the address is on the allow list
	ReasonAllowedDomain  = "allowed_domain"  // fact: accepted because the domain or a parent is on the allow list
	ReasonDisposable     = "disposable"      // refuses: a disposable email service
	ReasonPersonal       = "personal"        // refuses when Policy.BusinessOnly: a free/personal provider
)

// Policy is a workspace's rules for the addresses it accepts. List entries must be in the form
// NormalizeList (or Policy.Normalize) returns; Check compares them as they are.
type Policy struct {
	BusinessOnly   bool     `json:"business_only"`   // refuse free/personal providers (gmail.com, …)
	CheckMX        bool     `json:"check_mx"`        // refuse domains that DNS says cannot receive mail
	AllowDomains   []string `json:"allow_domains"`   // accepted with their subdomains, skipping the list and MX checks
	BlockDomains   []string `json:"block_domains"`   // refused with their subdomains
	AllowAddresses []string `json:"allow_addresses"` // accepted whatever else holds (unless blocked)
	BlockAddresses []string `json:"block_addresses"` // refused whatever else holds
}

// Reason explains a refusal, or notes a fact, in a machine code and a sentence a visitor can read.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Result is the verdict on one input.
type Result struct {
	Valid      bool     `json:"valid"`
	Normalized string   `json:"normalized"` // Address.String(); "" when the syntax is invalid
	Personal   bool     `json:"personal"`   // a free/personal provider, whatever the verdict
	Disposable bool     `json:"disposable"` // a disposable service, whatever the verdict
	Reasons    []Reason `json:"reasons"`    // every refusal, and facts such as mx_unknown; never nil
}

// Validator checks addresses against a Policy. MX is needed only for policies with CheckMX; it is
// shared by all checks so that its cache serves them all. A Validator is safe for concurrent use.
type Validator struct {
	MX *MXChecker
}

// Check validates input under policy p. The rules, in order: the syntax (an invalid address
// yields only its syntax reason and an empty Normalized); a blocked address refuses; an allowed
// address accepts and skips the rest; a blocked domain (or parent) refuses; an allowed domain (or
// parent) accepts, skipping the personal, disposable and MX checks; a disposable domain refuses; a
// personal one refuses under BusinessOnly; with CheckMX, a domain that cannot receive mail
// (mx_null, mx_not_found) refuses, while a look-up that fails only notes mx_unknown. When CheckMX
// is set but v (or v.MX) is nil, the look-up is skipped and mx_unknown noted. Check has no error:
// every outcome is in the Result.
func (v *Validator) Check(ctx context.Context, input string, p Policy) Result {
	res := Result{Reasons: []Reason{}}
	a, err := Parse(input)
	if err != nil {
		msg := "This is not a valid email address."
		if e := errs.As(err); e != nil {
			msg = e.Message
		}
		res.Reasons = append(res.Reasons, Reason{Code: CodeOf(err), Message: msg})
		return res
	}
	res.Normalized = a.String()
	if !a.IPLiteral {
		res.Disposable = isDisposable(a.Domain)
		res.Personal = !res.Disposable && isPersonal(a.Domain)
	}
	refuse := func(code, msg string) Result {
		res.Valid = false
		res.Reasons = append(res.Reasons, Reason{Code: code, Message: msg})
		return res
	}
	accept := func(code, msg string) Result {
		res.Valid = true
		res.Reasons = append(res.Reasons, Reason{Code: code, Message: msg})
		return res
	}
	switch {
	case containsString(p.BlockAddresses, res.Normalized):
		return refuse(ReasonBlockedAddress, "This email address is not accepted here.")
	case containsString(p.AllowAddresses, res.Normalized):
		return accept(ReasonAllowedAddress, "This email address is on the allow list.")
	case matchDomain(p.BlockDomains, a.Domain):
		return refuse(ReasonBlockedDomain, "Email addresses at this domain are not accepted here.")
	case matchDomain(p.AllowDomains, a.Domain):
		return accept(ReasonAllowedDomain, "This email domain is on the allow list.")
	}
	if res.Disposable {
		res.Reasons = append(res.Reasons, Reason{Code: ReasonDisposable, Message: "Please use a permanent email address; disposable addresses are not accepted."})
	}
	if res.Personal && p.BusinessOnly {
		res.Reasons = append(res.Reasons, Reason{Code: ReasonPersonal, Message: "Please use your work email address."})
	}
	if len(res.Reasons) > 0 {
		return res
	}
	if p.CheckMX && !a.IPLiteral {
		if v == nil || v.MX == nil {
			return accept(string(MXUnknown), "The domain's mail servers were not checked.")
		}
		switch mx := v.MX.Check(ctx, a.ASCIIDomain); mx.Status {
		case MXNull:
			return refuse(string(MXNull), "This email domain does not accept email.")
		case MXNotFound:
			return refuse(string(MXNotFound), "This email domain does not exist or cannot receive email.")
		case MXUnknown:
			return accept(string(MXUnknown), "The domain's mail servers could not be checked just now.")
		}
	}
	res.Valid = true
	return res
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// matchDomain reports whether d or a parent of d is in list. IP literals match only exactly.
func matchDomain(list []string, d string) bool {
	for _, e := range list {
		if d == e || e != "" && e[0] != '[' && len(d) > len(e) && d[len(d)-len(e)-1] == '.' && strings.HasSuffix(d, e) {
			return true
		}
	}
	return false
}

// Kinds of list entries NormalizeList accepts.
type entryKind int

const (
	anyEntry entryKind = iota
	domainEntry
	addressEntry
)

// NormalizeList validates and normalises the entries of an admin allow or block list and returns
// them de-duplicated, in their first-seen order, blank entries dropped. An entry is one of:
//
//   - a domain, "example.com" (also "@example.com" or "*.example.com", which mean the same):
//     it matches the domain and all its subdomains; returned as the lower-case Unicode domain;
//     IDNs may be given in either form; "[192.0.2.1]" matches that literal exactly;
//   - a full address, "ada@example.com": returned as Address.String().
//
// Errors are *errs.Error of kind errs.Invalid whose Field is field with the entry's index,
// e.g. "allow_domains[3]".
func NormalizeList(field string, entries []string) ([]string, error) {
	return normalizeList(field, entries, anyEntry)
}

func normalizeList(field string, entries []string, kind entryKind) ([]string, error) {
	out := make([]string, 0, len(entries))
	seen := make(map[string]bool, len(entries))
	for i, raw := range entries {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		f := fmt.Sprintf("%s[%d]", field, i)
		var norm string
		at := strings.LastIndexByte(e, '@')
		isAddress := at > 0 && !strings.HasPrefix(e, "*.")
		switch {
		case isAddress && kind == domainEntry:
			return nil, errs.Field(errs.Invalid, f, "%q is an email address; this list takes domains like example.com", e)
		case !isAddress && kind == addressEntry:
			return nil, errs.Field(errs.Invalid, f, "%q is not an email address; this list takes addresses like ada@example.com", e)
		case isAddress:
			a, err := parse(f, e)
			if err != nil {
				return nil, entryErr(f, e, err)
			}
			norm = a.String()
		default:
			d := strings.TrimPrefix(strings.TrimPrefix(e, "@"), "*.")
			u, _, err := ParseDomain(d)
			if err != nil {
				return nil, entryErr(f, e, err)
			}
			norm = u
		}
		if !seen[norm] {
			seen[norm] = true
			out = append(out, norm)
		}
	}
	return out, nil
}

func entryErr(field, entry string, err error) error {
	msg := "is not valid"
	if e := errs.As(err); e != nil {
		msg = e.Message
	}
	return &errs.Error{Kind: errs.Invalid, Field: field, Message: fmt.Sprintf("%q: %s", entry, msg), Err: err}
}

// Normalize returns p with its four lists passed through NormalizeList, checking that the domain
// lists hold domains and the address lists addresses. Errors are *errs.Error of kind errs.Invalid
// naming the entry, e.g. Field "block_domains[3]".
func (p Policy) Normalize() (Policy, error) {
	var err error
	for _, l := range []struct {
		field string
		list  *[]string
		kind  entryKind
	}{
		{"allow_domains", &p.AllowDomains, domainEntry},
		{"block_domains", &p.BlockDomains, domainEntry},
		{"allow_addresses", &p.AllowAddresses, addressEntry},
		{"block_addresses", &p.BlockAddresses, addressEntry},
	} {
		if *l.list, err = normalizeList(l.field, *l.list, l.kind); err != nil {
			return Policy{}, err
		}
	}
	return p, nil
}
