package routing

import (
	"math"
	"strconv"
	"strings"

	"github.com/beckonhq/beckon/internal/visitor/geo"
)

// Visitor is what routing knows about a visitor, as cond.Facts: the caller fills it from the
// visitor's fields, session, location, company and CRM account, and passes it as Input.Facts.
// Its methods do not allocate. It is JSON, so that the simulate API can take a sample visitor
// and recorded inputs can be replayed.
type Visitor struct {
	// Fields are the visitor's field values by key, as stored (text): numbers such as "3.50",
	// booleans "true" or "false".
	Fields  map[string]string `json:"fields,omitempty"`
	Session Session           `json:"session"`
	// Country is the visitor's ISO 3166 alpha-2 country code, in upper case; "" when unknown.
	Country string `json:"country,omitempty"`
	// Region is the sales region (AMER, EMEA, APAC); when "", the region of Country.
	Region string `json:"region,omitempty"`
	// CompanySize is the company's number of employees; when nil, it is read from the
	// company_size field with ParseCompanySize, and unknown when that fails.
	CompanySize *float64 `json:"company_size,omitempty"`
	// Target: the visitor's company is on a target account list.
	Target bool `json:"target"`
	// OwnerPresent: the visitor's CRM account has an owner.
	OwnerPresent bool `json:"owner_present"`
	// PreviousRep is the user id of the rep of the visitor's last conversation; "" when none.
	PreviousRep string `json:"previous_rep,omitempty"`
	// Returning: the visitor has had an earlier session.
	Returning bool `json:"returning"`
}

// Session is the visitor's current session.
type Session struct {
	PageURL     string `json:"page_url,omitempty"`
	Referrer    string `json:"referrer,omitempty"`
	LandingURL  string `json:"landing_url,omitempty"`
	UTMSource   string `json:"utm_source,omitempty"`
	UTMMedium   string `json:"utm_medium,omitempty"`
	UTMCampaign string `json:"utm_campaign,omitempty"`
	UTMTerm     string `json:"utm_term,omitempty"`
	UTMContent  string `json:"utm_content,omitempty"`
	Device      string `json:"device,omitempty"`   // e.g. "desktop", "mobile", "tablet"
	Language    string `json:"language,omitempty"` // e.g. "de-DE"
}

// Text answers the text subjects: "field.<key>" (the stored value), the session's, geo.country
// and geo.region, and visitor.previous_rep. An empty value, or a subject it does not know, is
// unknown.
func (v *Visitor) Text(subject string) (string, bool) {
	if v == nil {
		return "", false
	}
	var s string
	switch subject {
	case SubjectPageURL:
		s = v.Session.PageURL
	case SubjectReferrer:
		s = v.Session.Referrer
	case SubjectLandingURL:
		s = v.Session.LandingURL
	case SubjectUTMSource:
		s = v.Session.UTMSource
	case SubjectUTMMedium:
		s = v.Session.UTMMedium
	case SubjectUTMCampaign:
		s = v.Session.UTMCampaign
	case SubjectUTMTerm:
		s = v.Session.UTMTerm
	case SubjectUTMContent:
		s = v.Session.UTMContent
	case SubjectDevice:
		s = v.Session.Device
	case SubjectLanguage:
		s = v.Session.Language
	case SubjectCountry:
		s = v.Country
	case SubjectRegion:
		s = v.Region
		if s == "" && len(v.Country) == 2 {
			s = regionOf(v.Country)
		}
	case SubjectPreviousRep:
		s = v.PreviousRep
	default:
		if key, ok := strings.CutPrefix(subject, "field."); ok {
			s = v.Fields[key]
		}
	}
	return s, s != ""
}

// regionOf returns the region of a country code in either case, without allocating.
func regionOf(code string) string {
	if c0, c1 := code[0], code[1]; c0 >= 'a' && c0 <= 'z' || c1 >= 'a' && c1 <= 'z' {
		b := [2]byte{upper(c0), upper(c1)}
		return geo.RegionOf(string(b[:]))
	}
	return geo.RegionOf(code)
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// Number answers company.size (CompanySize, or ParseCompanySize of the company_size field) and
// number fields "field.<key>" (the value parsed as a decimal number). A value that does not
// parse, or is not finite, is unknown.
func (v *Visitor) Number(subject string) (float64, bool) {
	if v == nil {
		return 0, false
	}
	if subject == SubjectCompanySize {
		if v.CompanySize != nil {
			f := *v.CompanySize
			return f, !math.IsNaN(f) && !math.IsInf(f, 0)
		}
		return ParseCompanySize(v.Fields["company_size"])
	}
	key, ok := strings.CutPrefix(subject, "field.")
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v.Fields[key]), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// Bool answers account.target, account.owner_present and visitor.returning (always known) and
// boolean fields "field.<key>" ("true" or "false", in any case; anything else is unknown).
func (v *Visitor) Bool(subject string) (bool, bool) {
	if v == nil {
		return false, false
	}
	switch subject {
	case SubjectTarget:
		return v.Target, true
	case SubjectOwnerPresent:
		return v.OwnerPresent, true
	case SubjectReturning:
		return v.Returning, true
	}
	key, ok := strings.CutPrefix(subject, "field.")
	if !ok {
		return false, false
	}
	switch s := strings.TrimSpace(v.Fields[key]); {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// ParseCompanySize reads a company size as visitors and CRMs write it and returns the number of
// employees it stands for, the lower bound of a range: "500" → 500, "51-200" → 51,
// "1,001–5,000" → 1001, "10000+" → 10000, "10k+" → 10000, " 51 to 200 employees" → 51. It
// reports false for anything else (empty, "unknown", "<10", a negative number).
func ParseCompanySize(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	n, rest, ok := leadingCount(s)
	if !ok {
		return 0, false
	}
	rest = strings.TrimSpace(rest)
	// What may follow: nothing, "+", a range's separator and upper bound, and "employees".
	rest = strings.TrimSpace(strings.TrimPrefix(rest, "+"))
	for _, sep := range []string{"-", "–", "—", "to "} {
		if r, cut := strings.CutPrefix(rest, sep); cut {
			hi, after, ok := leadingCount(strings.TrimSpace(r))
			if !ok || hi < n {
				return 0, false
			}
			rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(after), "+"))
			break
		}
	}
	rest = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(rest), "s"), "employee"))
	if rest != "" {
		return 0, false
	}
	return n, true
}

// leadingCount reads a whole number at the start of s: digits, with commas between groups of
// three, and an optional k or K for thousands. It returns the number and what follows.
func leadingCount(s string) (float64, string, bool) {
	var n float64
	digits, i := 0, 0
	group := -1 // digits since the last comma; -1 before any comma
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + float64(c-'0')
			digits++
			if group >= 0 {
				group++
			}
			continue
		case c == ',' && digits > 0 && (group < 0 || group == 3) && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			if group < 0 && digits > 3 {
				return 0, "", false
			}
			group = 0
			continue
		}
		break
	}
	if digits == 0 || digits > 12 || group >= 0 && group != 3 {
		return 0, "", false
	}
	if i < len(s) && (s[i] == 'k' || s[i] == 'K') {
		n *= 1000
		i++
	}
	return n, s[i:], true
}
