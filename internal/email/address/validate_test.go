package address

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
)

func TestCheck(t *testing.T) {
	dns := startDNS(t)
	v := &Validator{MX: &MXChecker{Resolver: dns.resolver(), Timeout: 300 * time.Millisecond}}
	business := Policy{BusinessOnly: true}
	mx := Policy{CheckMX: true}
	lists := Policy{
		BlockAddresses: []string{"boss@gmail.com", "ada@ok.mx.test"},
		AllowAddresses: []string{"ada@gmail.com", "boss@gmail.com", "eve@bad.example", "tmp@mailinator.com"},
		BlockDomains:   []string{"bad.example", "spam.mx.test"},
		AllowDomains:   []string{"mailinator.com", "bad.example", "partner.nx.test"},
		BusinessOnly:   true,
		CheckMX:        true,
	}
	tests := []struct {
		name, in   string
		p          Policy
		valid      bool
		normalized string
		personal   bool
		disposable bool
		codes      []string
	}{
		{"plain", "Ada@Example.com", Policy{}, true, "ada@example.com", false, false, nil},
		{"syntax", "Ada <ada@example.com>", Policy{}, false, "", false, false, []string{CodeDisplayName}},
		{"syntax beats lists", "ada@@gmail.com", lists, false, "", false, false, []string{CodeMultipleAt}},
		{"personal allowed", "ada@gmail.com", Policy{}, true, "ada@gmail.com", true, false, nil},
		{"personal refused", "bob@gmail.com", business, false, "bob@gmail.com", true, false, []string{ReasonPersonal}},
		{"personal subdomain", "bob@mail.austin.rr.com", business, false, "bob@mail.austin.rr.com", true, false, []string{ReasonPersonal}},
		{"disposable", "x@mailinator.com", Policy{}, false, "x@mailinator.com", false, true, []string{ReasonDisposable}},
		{"disposable subdomain", "x@sub.mailinator.com", business, false, "x@sub.mailinator.com", false, true, []string{ReasonDisposable}},
		{"business ok", "ada@mx.test", business, true, "ada@mx.test", false, false, nil},
		{"ip literal", "ada@[192.0.2.1]", Policy{BusinessOnly: true, CheckMX: true}, true, "ada@[192.0.2.1]", false, false, nil},
		{"mx found", "ada@mx.test", mx, true, "ada@mx.test", false, false, nil},
		{"mx implicit", "ada@implicit.test", mx, true, "ada@implicit.test", false, false, nil},
		{"mx null", "ada@nullmx.test", mx, false, "ada@nullmx.test", false, false, []string{string(MXNull)}},
		{"mx nxdomain", "ada@nx.test", mx, false, "ada@nx.test", false, false, []string{string(MXNotFound)}},
		{"mx no records", "ada@empty.test", mx, false, "ada@empty.test", false, false, []string{string(MXNotFound)}},
		{"mx servfail", "ada@servfail.test", mx, true, "ada@servfail.test", false, false, []string{string(MXUnknown)}},
		{"mx timeout", "ada@slow.test", mx, true, "ada@slow.test", false, false, []string{string(MXUnknown)}},
		{"mx off", "ada@nx.test", Policy{}, true, "ada@nx.test", false, false, nil},
		{"disposable before mx", "x@mailinator.com", mx, false, "x@mailinator.com", false, true, []string{ReasonDisposable}},
		// Lists, in the order of the rules.
		{"blocked address beats allowed address", "Boss@Gmail.com", lists, false, "boss@gmail.com", true, false, []string{ReasonBlockedAddress}},
		{"blocked address beats a good domain", "ada@ok.mx.test", lists, false, "ada@ok.mx.test", false, false, []string{ReasonBlockedAddress}},
		{"allowed address beats personal", "ada@gmail.com", lists, true, "ada@gmail.com", true, false, []string{ReasonAllowedAddress}},
		{"allowed address beats blocked domain", "eve@bad.example", lists, true, "eve@bad.example", false, false, []string{ReasonAllowedAddress}},
		{"allowed address beats disposable", "tmp@mailinator.com", lists, true, "tmp@mailinator.com", false, true, []string{ReasonAllowedAddress}},
		{"blocked domain beats allowed domain", "x@bad.example", lists, false, "x@bad.example", false, false, []string{ReasonBlockedDomain}},
		{"blocked parent domain", "x@a.spam.mx.test", lists, false, "x@a.spam.mx.test", false, false, []string{ReasonBlockedDomain}},
		{"blocked domain is not a suffix match", "x@notbad.example", Policy{BlockDomains: []string{"bad.example"}}, true, "x@notbad.example", false, false, nil},
		{"allowed domain beats disposable", "y@mailinator.com", lists, true, "y@mailinator.com", false, true, []string{ReasonAllowedDomain}},
		{"allowed domain skips mx", "y@partner.nx.test", lists, true, "y@partner.nx.test", false, false, []string{ReasonAllowedDomain}},
		{"personal under lists", "bob@gmail.com", lists, false, "bob@gmail.com", true, false, []string{ReasonPersonal}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := v.Check(context.Background(), tt.in, tt.p)
			var codes []string
			for _, reason := range r.Reasons {
				codes = append(codes, reason.Code)
				if reason.Message == "" {
					t.Errorf("reason %s has no message", reason.Code)
				}
			}
			if r.Valid != tt.valid || r.Normalized != tt.normalized || r.Personal != tt.personal || r.Disposable != tt.disposable || !slices.Equal(codes, tt.codes) {
				t.Fatalf("Check(%q) = %+v\nwant valid=%v normalized=%q personal=%v disposable=%v codes=%v",
					tt.in, r, tt.valid, tt.normalized, tt.personal, tt.disposable, tt.codes)
			}
		})
	}
}

func TestCheckWithoutMXChecker(t *testing.T) {
	var v *Validator
	r := v.Check(context.Background(), "ada@example.com", Policy{CheckMX: true})
	if !r.Valid || len(r.Reasons) != 1 || r.Reasons[0].Code != string(MXUnknown) {
		t.Fatalf("Check without an MXChecker = %+v, want valid with mx_unknown", r)
	}
}

func TestResultJSON(t *testing.T) {
	var v Validator
	b, err := json.Marshal(v.Check(context.Background(), "nobody", Policy{}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"valid":false,"normalized":"","personal":false,"disposable":false,"reasons":[{"code":"syntax.missing_at","message":"An email address needs an @, like name@example.com."}]}`
	if string(b) != want {
		t.Fatalf("JSON = %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(v.Check(context.Background(), "ada@example.com", Policy{}))
	if want := `{"valid":true,"normalized":"ada@example.com","personal":false,"disposable":false,"reasons":[]}`; string(b) != want {
		t.Fatalf("JSON = %s\nwant %s", b, want)
	}
}

func TestNormalizeList(t *testing.T) {
	got, err := NormalizeList("block", []string{
		"Example.COM", " @example.com", "*.example.com", "", "  ", "Ada@Example.com", "bücher.DE",
		"xn--bcher-kva.de", `"Ada"@example.com`, "[192.0.2.1]", "sub.example.com",
	})
	want := []string{"example.com", "ada@example.com", "bücher.de", "[192.0.2.1]", "sub.example.com"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("NormalizeList = %q, %v; want %q", got, err, want)
	}
	for _, tt := range []struct {
		entries []string
		field   string
	}{
		{[]string{"example.com", "", "bad domain"}, "allow_domains[2]"},
		{[]string{"localhost"}, "allow_domains[0]"},
		{[]string{"a@b@c.com"}, "allow_domains[0]"},
		{[]string{"ok.com", "Ada <ada@example.com>"}, "allow_domains[1]"},
		{[]string{"*."}, "allow_domains[0]"},
		{[]string{"@"}, "allow_domains[0]"},
	} {
		_, err := NormalizeList("allow_domains", tt.entries)
		e := errs.As(err)
		if e == nil || e.Kind != errs.Invalid || e.Field != tt.field || e.Message == "" {
			t.Errorf("NormalizeList(%q) error = %#v, want errs.Invalid about %s", tt.entries, err, tt.field)
		}
	}
}

func TestPolicyNormalize(t *testing.T) {
	p, err := Policy{
		BusinessOnly:   true,
		AllowDomains:   []string{"Partner.COM", "*.partner.com"},
		BlockDomains:   []string{"@Spam.example"},
		AllowAddresses: []string{"CEO@Gmail.com"},
		BlockAddresses: []string{`"Bad"@x.com`},
	}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if !p.BusinessOnly || !slices.Equal(p.AllowDomains, []string{"partner.com"}) || !slices.Equal(p.BlockDomains, []string{"spam.example"}) ||
		!slices.Equal(p.AllowAddresses, []string{"ceo@gmail.com"}) || !slices.Equal(p.BlockAddresses, []string{"bad@x.com"}) {
		t.Fatalf("Normalize = %+v", p)
	}
	for _, tt := range []struct {
		p     Policy
		field string
	}{
		{Policy{AllowDomains: []string{"ada@example.com"}}, "allow_domains[0]"},
		{Policy{BlockDomains: []string{"ok.com", "ok.org", "no"}}, "block_domains[2]"},
		{Policy{AllowAddresses: []string{"example.com"}}, "allow_addresses[0]"},
		{Policy{BlockAddresses: []string{"a@b.com", "@b.com"}}, "block_addresses[1]"},
	} {
		_, err := tt.p.Normalize()
		if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != tt.field {
			t.Errorf("Normalize(%+v) error = %v, want one about %s", tt.p, err, tt.field)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	dns := startDNS(b)
	v := &Validator{MX: &MXChecker{Resolver: dns.resolver()}}
	p := Policy{BusinessOnly: true, CheckMX: true, BlockDomains: make([]string, 0, 100)}
	for i := range 100 {
		p.BlockDomains = append(p.BlockDomains, "blocked"+string(rune('a'+i%26))+".example")
	}
	lists() // load the lists outside the timing
	for _, in := range []string{"Ada.Lovelace@mx.test", "ada@gmail.com", "用户@例子.广告", "not an address"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v.Check(context.Background(), in, p)
			}
		})
	}
}
