package routing_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/cond"
	"github.com/beckonhq/beckon/internal/routing"
)

var _ cond.Facts = (*routing.Visitor)(nil)

func TestVisitorFacts(t *testing.T) {
	size := 42.0
	nan := math.NaN()
	v := &routing.Visitor{
		Fields: map[string]string{"company": "Initech", "seats": " 3.50 ", "customer": "TRUE", "bad": "many", "flag": "yes",
			"inf": "Inf", "company_size": "51-200", "empty": ""},
		Session: routing.Session{PageURL: "https://acme.com/pricing", Referrer: "https://google.com/", LandingURL: "https://acme.com/",
			UTMSource: "google", UTMMedium: "cpc", UTMCampaign: "brand", UTMTerm: "chat", UTMContent: "a", Device: "mobile", Language: "de-DE"},
		Country: "de", PreviousRep: "usr_dana", Target: true, Returning: true,
	}
	texts := map[string]string{
		"field.company": "Initech", "field.missing": "", "field.empty": "", "session.page_url": "https://acme.com/pricing",
		"session.referrer": "https://google.com/", "session.landing_url": "https://acme.com/", "session.utm_source": "google",
		"session.utm_medium": "cpc", "session.utm_campaign": "brand", "session.utm_term": "chat", "session.utm_content": "a",
		"session.device": "mobile", "session.language": "de-DE", "geo.country": "de", "geo.region": "EMEA",
		"visitor.previous_rep": "usr_dana", "account.target": "", "nonsense": "",
	}
	for subject, want := range texts {
		got, ok := v.Text(subject)
		if got != want || ok != (want != "") {
			t.Errorf("Text(%s) = %q, %v; want %q", subject, got, ok, want)
		}
	}
	v.Region = "APAC"
	if got, _ := v.Text("geo.region"); got != "APAC" {
		t.Errorf("an explicit region: %q", got)
	}
	v.Region, v.Country = "", "ZZ"
	if _, ok := v.Text("geo.region"); ok {
		t.Error("a region for an unknown country")
	}

	nums := []struct {
		subject string
		want    float64
		ok      bool
	}{
		{"company.size", 51, true}, {"field.seats", 3.5, true}, {"field.bad", 0, false}, {"field.inf", 0, false},
		{"field.missing", 0, false}, {"session.page_url", 0, false},
	}
	for _, tt := range nums {
		if got, ok := v.Number(tt.subject); got != tt.want || ok != tt.ok {
			t.Errorf("Number(%s) = %v, %v", tt.subject, got, ok)
		}
	}
	v.CompanySize = &size
	if got, ok := v.Number("company.size"); got != 42 || !ok {
		t.Errorf("explicit company size %v %v", got, ok)
	}
	v.CompanySize = &nan
	if _, ok := v.Number("company.size"); ok {
		t.Error("NaN company size known")
	}

	bools := []struct {
		subject  string
		want, ok bool
	}{
		{"account.target", true, true}, {"account.owner_present", false, true}, {"visitor.returning", true, true},
		{"field.customer", true, true}, {"field.flag", false, false}, {"field.missing", false, false}, {"geo.country", false, false},
	}
	for _, tt := range bools {
		if got, ok := v.Bool(tt.subject); got != tt.want || ok != tt.ok {
			t.Errorf("Bool(%s) = %v, %v", tt.subject, got, ok)
		}
	}

	var none *routing.Visitor
	if _, ok := none.Text("geo.country"); ok {
		t.Error("nil visitor knows a country")
	}
	if _, ok := none.Number("company.size"); ok {
		t.Error("nil visitor knows a size")
	}
	if _, ok := none.Bool("account.target"); ok {
		t.Error("nil visitor knows a flag")
	}
}

func TestVisitorDoesNotAllocate(t *testing.T) {
	v := &routing.Visitor{Fields: map[string]string{"company": "Initech", "seats": "12", "customer": "false", "company_size": "1,001-5,000 employees"},
		Country: "fr", Session: routing.Session{PageURL: "https://acme.com/"}}
	allocs := testing.AllocsPerRun(100, func() {
		v.Text("field.company")
		v.Text("geo.region")
		v.Text("session.page_url")
		v.Number("field.seats")
		v.Number("company.size")
		v.Bool("field.customer")
		v.Bool("account.target")
	})
	if allocs != 0 {
		t.Errorf("Visitor's facts allocate %v times", allocs)
	}
}

func TestParseCompanySize(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"500", 500, true},
		{"51-200", 51, true},
		{"51 - 200", 51, true},
		{"1,001–5,000", 1001, true},
		{"1001—5000", 1001, true},
		{"10000+", 10000, true},
		{"10,000+", 10000, true},
		{" 10k+ ", 10000, true},
		{"1K-5K", 1000, true},
		{"51 to 200 employees", 51, true},
		{"1 employee", 1, true},
		{"201-500 Employees", 201, true},
		{"0", 0, true},
		{"5000+ employees", 5000, true},
		{"1,000,000", 1000000, true},
		{"", 0, false},
		{"unknown", 0, false},
		{"<10", 0, false},
		{"-5", 0, false},
		{"200-51", 0, false},
		{"51-", 0, false},
		{"10,00", 0, false},
		{"1000,000", 0, false},
		{"1,0000", 0, false},
		{"1,", 0, false},
		{"12.5", 0, false},
		{"51-200 people", 0, false},
		{"1e5", 0, false},
		{"9999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := routing.ParseCompanySize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseCompanySize(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseCompanySize: never a panic; a size is a whole number from 0 to 10¹⁵; a plain number
// reads as itself; a size read does not depend on white space around it.
func FuzzParseCompanySize(f *testing.F) {
	for _, s := range []string{"500", "51-200", "1,001–5,000", "10000+", "10k+", "51 to 200 employees", "", "<10", "1,0000", "1,", "12k-", "—", "k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := routing.ParseCompanySize(s)
		if !ok {
			if n != 0 {
				t.Fatalf("%q: %v with false", s, n)
			}
			return
		}
		if n < 0 || n > 1e15 || n != math.Trunc(n) {
			t.Fatalf("%q: %v", s, n)
		}
		if again, ok := routing.ParseCompanySize(" \t" + s + " "); !ok || again != n {
			t.Fatalf("%q with white space: %v, %v", s, again, ok)
		}
		if n < 1e12 {
			if again, ok := routing.ParseCompanySize(strconv.FormatFloat(n, 'f', -1, 64)); !ok || again != n {
				t.Fatalf("%v written plainly: %v, %v", n, again, ok)
			}
		}
		if strings.ContainsAny(s, "\x00") {
			t.Fatalf("%q accepted with a NUL", s)
		}
	})
}
