package cond_test

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/cond"
	"github.com/beckonhq/beckon/internal/errs"
)

// schema is a routing schema like the one routing builds from a workspace.
var schema = cond.Schema{
	Subjects: []cond.Subject{
		{Name: "field.company", Label: "Company", Kind: cond.Text},
		{Name: "field.email", Label: "Email", Kind: cond.Text},
		{Name: "session.utm_source", Label: "UTM source", Kind: cond.Text},
		{Name: "session.page_url", Label: "Page URL", Kind: cond.URL},
		{Name: "session.referrer", Label: "Referrer", Kind: cond.URL},
		{Name: "company.size", Label: "Employees", Kind: cond.Number},
		{Name: "account.target", Label: "Target account", Kind: cond.Bool},
		{Name: "visitor.returning", Label: "Returning visitor", Kind: cond.Bool},
		{Name: "field.plan", Label: "Plan", Kind: cond.Picklist, Options: []string{"Free", "Pro", "Enterprise"}},
		{Name: "geo.region", Label: "Region", Kind: cond.Picklist, Options: []string{"AMER", "EMEA", "APAC"}},
		{Name: "geo.country", Label: "Country", Kind: cond.Country},
		{Name: "geo.territory", Label: "Territory", Kind: cond.Territory},
		{Name: "visitor.previous_rep", Label: "Previous rep", Kind: cond.User},
	},
	Territories: map[string][]string{
		"EMEA":  {"DE", "FR", "GB"},
		"AMER":  {"US", "CA"},
		"DACH":  {"de", "AT", "CH"},
		"Empty": nil,
	},
	ValidUser: func(id string) bool { return strings.HasPrefix(id, "usr_") },
}

const prefix = "rules[3].conditions"

// leaf writes a comparison as JSON; a nil value leaves the key out.
func leaf(subject, op string, value any) string {
	m := map[string]any{"subject": subject, "op": op}
	if value != nil {
		m["value"] = value
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func group(key string, kids ...string) string {
	if key == "not" {
		return `{"not":` + kids[0] + `}`
	}
	return `{"` + key + `":[` + strings.Join(kids, ",") + `]}`
}

func mustCompile(t testing.TB, raw string) *cond.Expr {
	t.Helper()
	e, err := cond.Compile([]byte(raw), prefix, schema)
	if err != nil {
		t.Fatalf("Compile(%s): %v", raw, err)
	}
	return e
}

func companies(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "Company " + strconv.Itoa(i)
	}
	return out
}

func TestComparisons(t *testing.T) {
	long := append(companies(20), "Kelvin")
	tests := []struct {
		name string
		cond string
		hold []cond.Map // facts for which the condition holds
		fail []cond.Map // and fails
	}{
		// Text.
		{"text eq ignores case", leaf("field.company", "eq", "Acme"),
			[]cond.Map{{"field.company": "ACME"}, {"field.company": "acme"}},
			[]cond.Map{{"field.company": "Acme Inc"}, {}, {"field.company": ""}, {"field.company": 3.0}}},
		{"text eq unicode folding", leaf("field.company", "eq", "kelvin"),
			[]cond.Map{{"field.company": "\u212Aelvin"}}, []cond.Map{{"field.company": "kelvi"}}},
		{"text neq", leaf("field.company", "neq", "Acme"),
			[]cond.Map{{"field.company": "Globex"}, {}},
			[]cond.Map{{"field.company": "aCmE"}}},
		{"text in", leaf("field.company", "in", []string{"Acme", "Globex"}),
			[]cond.Map{{"field.company": "GLOBEX"}, {"field.company": "acme"}},
			[]cond.Map{{"field.company": "Initech"}, {}}},
		{"text in long list", leaf("field.company", "in", long),
			[]cond.Map{{"field.company": "company 7"}, {"field.company": "COMPANY 19"}, {"field.company": "\u212Aelvin"},
				{"field.company": "KELVIN"}, {"field.company": "company 0"}},
			[]cond.Map{{"field.company": "Company 20"}, {"field.company": strings.Repeat("é", 300)}, {}}},
		{"text in long list, value too long to fold on the stack", leaf("field.company", "in", append(companies(10), strings.Repeat("x", 400))),
			[]cond.Map{{"field.company": strings.Repeat("X", 400)}}, []cond.Map{{"field.company": strings.Repeat("x", 399)}}},
		{"text not_in", leaf("field.company", "not_in", []string{"Acme", "Globex"}),
			[]cond.Map{{"field.company": "Initech"}, {}},
			[]cond.Map{{"field.company": "ACME"}}},
		{"text not_in long list", leaf("field.company", "not_in", long),
			[]cond.Map{{"field.company": "Company 99"}, {}},
			[]cond.Map{{"field.company": "company 3"}}},
		{"text contains", leaf("field.company", "contains", "cme"),
			[]cond.Map{{"field.company": "ACME Corp"}, {"field.company": "cme"}},
			[]cond.Map{{"field.company": "Globex"}, {"field.company": "cm"}, {}}},
		{"text not_contains", leaf("field.company", "not_contains", "cme"),
			[]cond.Map{{"field.company": "Globex"}, {}},
			[]cond.Map{{"field.company": "ACME"}}},
		{"text starts_with", leaf("field.email", "starts_with", "sales@"),
			[]cond.Map{{"field.email": "SALES@acme.com"}, {"field.email": "sales@"}},
			[]cond.Map{{"field.email": "presales@acme.com"}, {"field.email": "sales"}, {}}},
		{"text ends_with", leaf("field.email", "ends_with", "@acme.com"),
			[]cond.Map{{"field.email": "ada@ACME.com"}, {"field.email": "@acme.com"}},
			[]cond.Map{{"field.email": "ada@acme.com.evil.example"}, {"field.email": "acme.com"}, {}}},
		{"text ends_with folds multi-byte", leaf("field.email", "ends_with", "ık"),
			[]cond.Map{{"field.email": "parkık"}}, []cond.Map{{"field.email": "parkik"}}},
		{"text exists", leaf("session.utm_source", "exists", nil),
			[]cond.Map{{"session.utm_source": "google"}},
			[]cond.Map{{}, {"session.utm_source": ""}, {"session.utm_source": true}}},
		{"text not_exists", leaf("session.utm_source", "not_exists", nil),
			[]cond.Map{{}, {"session.utm_source": ""}},
			[]cond.Map{{"session.utm_source": "google"}}},

		// URL and wildcards.
		{"url matches, star at both ends", leaf("session.page_url", "matches", "*/pricing*"),
			[]cond.Map{{"session.page_url": "https://acme.com/pricing"}, {"session.page_url": "https://ACME.com/Pricing?plan=pro"}, {"session.page_url": "/pricing"}},
			[]cond.Map{{"session.page_url": "https://acme.com/price"}, {"session.page_url": "https://acme.com/pric"}, {}}},
		{"url matches, star at end", leaf("session.page_url", "matches", "https://acme.com/pricing*"),
			[]cond.Map{{"session.page_url": "https://acme.com/pricing/enterprise"}, {"session.page_url": "HTTPS://ACME.COM/PRICING"}},
			[]cond.Map{{"session.page_url": "http://acme.com/pricing"}, {"session.page_url": "https://blog.acme.com/pricing"}}},
		{"url matches, star at start", leaf("session.page_url", "matches", "*.pdf"),
			[]cond.Map{{"session.page_url": "https://acme.com/a/b.PDF"}, {"session.page_url": ".pdf"}},
			[]cond.Map{{"session.page_url": "https://acme.com/b.pdf?x=1"}, {"session.page_url": "pdf"}}},
		{"url matches, star in the middle", leaf("session.page_url", "matches", "https://*.acme.com/*"),
			[]cond.Map{{"session.page_url": "https://blog.acme.com/x"}, {"session.page_url": "https://.acme.com/"}},
			[]cond.Map{{"session.page_url": "https://acme.com/x"}, {"session.page_url": "https://blog.acme.co/x"}}},
		{"url matches, prefix and suffix do not overlap", leaf("session.page_url", "matches", "ab*ba"),
			[]cond.Map{{"session.page_url": "abba"}, {"session.page_url": "ab-ba"}},
			[]cond.Map{{"session.page_url": "aba"}, {"session.page_url": "ab"}}},
		{"url matches, several stars", leaf("session.page_url", "matches", "*a*b*c*"),
			[]cond.Map{{"session.page_url": "xaybzc"}, {"session.page_url": "abc"}, {"session.page_url": "aabbcc"}},
			[]cond.Map{{"session.page_url": "cba"}, {"session.page_url": "acb"}}},
		{"url matches, ? is literal", leaf("session.page_url", "matches", "*/search?q=*"),
			[]cond.Map{{"session.page_url": "https://x.io/search?q=beckon"}},
			[]cond.Map{{"session.page_url": "https://x.io/searchXq=beckon"}, {"session.page_url": "https://x.io/search"}}},
		{"url matches, . is literal", leaf("session.page_url", "matches", "*acme.com*"),
			[]cond.Map{{"session.page_url": "https://acme.com"}},
			[]cond.Map{{"session.page_url": "https://acmeXcom"}}},
		{"url matches, + is literal", leaf("session.page_url", "matches", "*/c++/*"),
			[]cond.Map{{"session.page_url": "https://x.io/c++/intro"}},
			[]cond.Map{{"session.page_url": "https://x.io/cc/intro"}, {"session.page_url": "https://x.io/c/intro"}}},
		{"url matches, brackets and backslashes are literal", leaf("session.page_url", "matches", `*[a-z]\d*`),
			[]cond.Map{{"session.page_url": `x[A-Z]\dy`}},
			[]cond.Map{{"session.page_url": "xb1"}}},
		{"url matches without a star is the whole value", leaf("session.page_url", "matches", "https://acme.com/"),
			[]cond.Map{{"session.page_url": "HTTPS://acme.com/"}},
			[]cond.Map{{"session.page_url": "https://acme.com/x"}, {"session.page_url": "https://acme.com"}}},
		{"url starts_with", leaf("session.referrer", "starts_with", "https://www.google."),
			[]cond.Map{{"session.referrer": "https://www.Google.de/"}},
			[]cond.Map{{"session.referrer": "https://bing.com/"}}},

		// Numbers.
		{"number eq", leaf("company.size", "eq", 250),
			[]cond.Map{{"company.size": 250.0}, {"company.size": 250}},
			[]cond.Map{{"company.size": 251.0}, {}, {"company.size": math.NaN()}, {"company.size": "250"}}},
		{"number neq", leaf("company.size", "neq", 250),
			[]cond.Map{{"company.size": 1.0}, {}, {"company.size": math.NaN()}},
			[]cond.Map{{"company.size": 250.0}}},
		{"number gt", leaf("company.size", "gt", 100),
			[]cond.Map{{"company.size": 100.5}, {"company.size": math.Inf(1)}},
			[]cond.Map{{"company.size": 100.0}, {}}},
		{"number gte", leaf("company.size", "gte", 100),
			[]cond.Map{{"company.size": 100.0}},
			[]cond.Map{{"company.size": 99.99}, {}}},
		{"number lt", leaf("company.size", "lt", -1.5),
			[]cond.Map{{"company.size": -2.0}},
			[]cond.Map{{"company.size": -1.5}, {}}},
		{"number lte", leaf("company.size", "lte", 10),
			[]cond.Map{{"company.size": 10.0}, {"company.size": -5}},
			[]cond.Map{{"company.size": 10.01}, {}}},
		{"number between is inclusive", leaf("company.size", "between", []float64{100, 500}),
			[]cond.Map{{"company.size": 100.0}, {"company.size": 500.0}, {"company.size": 250}},
			[]cond.Map{{"company.size": 99.5}, {"company.size": 501.0}, {}}},
		{"number exists", leaf("company.size", "exists", nil),
			[]cond.Map{{"company.size": 0.0}}, []cond.Map{{}, {"company.size": math.NaN()}}},
		{"number not_exists", leaf("company.size", "not_exists", nil),
			[]cond.Map{{}}, []cond.Map{{"company.size": 0.0}}},

		// Booleans.
		{"bool is true", leaf("account.target", "is", true),
			[]cond.Map{{"account.target": true}}, []cond.Map{{"account.target": false}, {}, {"account.target": "true"}}},
		{"bool is false needs a known false", leaf("account.target", "is", false),
			[]cond.Map{{"account.target": false}}, []cond.Map{{"account.target": true}, {}}},
		{"bool not is true includes unknown", group("not", leaf("account.target", "is", true)),
			[]cond.Map{{"account.target": false}, {}}, []cond.Map{{"account.target": true}}},
		{"bool exists", leaf("visitor.returning", "exists", nil),
			[]cond.Map{{"visitor.returning": false}}, []cond.Map{{}}},
		{"bool not_exists", leaf("visitor.returning", "not_exists", nil),
			[]cond.Map{{}}, []cond.Map{{"visitor.returning": true}}},

		// Picklists.
		{"picklist eq", leaf("field.plan", "eq", "pro"),
			[]cond.Map{{"field.plan": "Pro"}, {"field.plan": "PRO"}}, []cond.Map{{"field.plan": "Free"}, {}}},
		{"picklist neq", leaf("field.plan", "neq", "Pro"),
			[]cond.Map{{"field.plan": "Free"}, {}}, []cond.Map{{"field.plan": "pro"}}},
		{"picklist in", leaf("field.plan", "in", []string{"free", "ENTERPRISE"}),
			[]cond.Map{{"field.plan": "Enterprise"}}, []cond.Map{{"field.plan": "Pro"}, {}}},
		{"picklist not_in", leaf("field.plan", "not_in", []string{"Free"}),
			[]cond.Map{{"field.plan": "Enterprise"}, {}}, []cond.Map{{"field.plan": "free"}}},
		{"picklist exists", leaf("field.plan", "exists", nil),
			[]cond.Map{{"field.plan": "Pro"}}, []cond.Map{{}}},
		{"region is a picklist", leaf("geo.region", "eq", "emea"),
			[]cond.Map{{"geo.region": "EMEA"}}, []cond.Map{{"geo.region": "APAC"}, {}}},

		// Countries.
		{"country eq", leaf("geo.country", "eq", "de"),
			[]cond.Map{{"geo.country": "DE"}, {"geo.country": "de"}},
			[]cond.Map{{"geo.country": "FR"}, {"geo.country": "Germany"}, {"geo.country": "D"}, {}}},
		{"country neq", leaf("geo.country", "neq", "DE"),
			[]cond.Map{{"geo.country": "FR"}, {}, {"geo.country": "??"}}, []cond.Map{{"geo.country": "DE"}}},
		{"country in", leaf("geo.country", "in", []string{"US", "ca"}),
			[]cond.Map{{"geo.country": "CA"}, {"geo.country": "us"}}, []cond.Map{{"geo.country": "MX"}, {}}},
		{"country not_in", leaf("geo.country", "not_in", []string{"US", "CA"}),
			[]cond.Map{{"geo.country": "MX"}, {}}, []cond.Map{{"geo.country": "US"}}},
		{"country exists", leaf("geo.country", "exists", nil),
			[]cond.Map{{"geo.country": "JP"}}, []cond.Map{{}}},
		{"country not_exists", leaf("geo.country", "not_exists", nil),
			[]cond.Map{{}}, []cond.Map{{"geo.country": "JP"}}},

		// Territories.
		{"territory in", leaf("geo.territory", "in", []string{"emea"}),
			[]cond.Map{{"geo.country": "DE"}, {"geo.country": "gb"}},
			[]cond.Map{{"geo.country": "US"}, {}, {"geo.territory": "EMEA"}}},
		{"territory in several is their union", leaf("geo.territory", "in", []string{"AMER", "DACH"}),
			[]cond.Map{{"geo.country": "US"}, {"geo.country": "AT"}, {"geo.country": "DE"}},
			[]cond.Map{{"geo.country": "FR"}}},
		{"territory not_in", leaf("geo.territory", "not_in", []string{"EMEA", "AMER"}),
			[]cond.Map{{"geo.country": "JP"}, {}}, []cond.Map{{"geo.country": "DE"}, {"geo.country": "CA"}}},

		// Users.
		{"user eq is exact", leaf("visitor.previous_rep", "eq", "usr_1"),
			[]cond.Map{{"visitor.previous_rep": "usr_1"}}, []cond.Map{{"visitor.previous_rep": "USR_1"}, {}}},
		{"user neq", leaf("visitor.previous_rep", "neq", "usr_1"),
			[]cond.Map{{"visitor.previous_rep": "usr_2"}, {}}, []cond.Map{{"visitor.previous_rep": "usr_1"}}},
		{"user in long list", leaf("visitor.previous_rep", "in", []string{"usr_1", "usr_2", "usr_3", "usr_4", "usr_5", "usr_6", "usr_7", "usr_8", "usr_9"}),
			[]cond.Map{{"visitor.previous_rep": "usr_9"}}, []cond.Map{{"visitor.previous_rep": "USR_9"}, {}}},
		{"user not_in", leaf("visitor.previous_rep", "not_in", []string{"usr_1"}),
			[]cond.Map{{"visitor.previous_rep": "usr_2"}, {}}, []cond.Map{{"visitor.previous_rep": "usr_1"}}},
		{"user exists", leaf("visitor.previous_rep", "exists", nil),
			[]cond.Map{{"visitor.previous_rep": "usr_2"}}, []cond.Map{{}}},

		// Groups.
		{"all", group("all", leaf("geo.territory", "in", []string{"EMEA"}), leaf("company.size", "gte", 50)),
			[]cond.Map{{"geo.country": "DE", "company.size": 50}},
			[]cond.Map{{"geo.country": "DE", "company.size": 49}, {"geo.country": "US", "company.size": 50}, {}}},
		{"any", group("any", leaf("account.target", "is", true), leaf("company.size", "gte", 1000)),
			[]cond.Map{{"account.target": true}, {"company.size": 5000}},
			[]cond.Map{{"account.target": false, "company.size": 10}, {}}},
		{"not", group("not", leaf("field.company", "contains", "test")),
			[]cond.Map{{"field.company": "Acme"}, {}}, []cond.Map{{"field.company": "Test Corp"}}},
		{"nested", group("all", group("any", leaf("geo.country", "eq", "US"), leaf("geo.country", "eq", "CA")),
			group("not", group("any", leaf("field.plan", "eq", "Free"), leaf("field.plan", "not_exists", nil)))),
			[]cond.Map{{"geo.country": "US", "field.plan": "Pro"}},
			[]cond.Map{{"geo.country": "US", "field.plan": "Free"}, {"geo.country": "US"}, {"geo.country": "MX", "field.plan": "Pro"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustCompile(t, tt.cond)
			again := mustCompile(t, string(e.JSON()))
			for want, list := range map[bool][]cond.Map{true: tt.hold, false: tt.fail} {
				for _, f := range list {
					if got := e.Eval(f); got != want {
						t.Errorf("Eval(%v) = %v, want %v", f, got, want)
					}
					if got, _ := e.Trace(f); got != want {
						t.Errorf("Trace(%v) = %v, want %v", f, got, want)
					}
					if got := again.Eval(f); got != want {
						t.Errorf("after the round trip, Eval(%v) = %v, want %v", f, got, want)
					}
				}
			}
		})
	}
}

func TestAlways(t *testing.T) {
	for _, raw := range []string{"", "   ", "\n\t", "null", "{}", " { } ", " null "} {
		e, err := cond.Compile([]byte(raw), prefix, schema)
		if err != nil {
			t.Fatalf("Compile(%q): %v", raw, err)
		}
		if !e.Always() || !e.Eval(cond.Map{}) || string(e.JSON()) != "{}" || e.FactNames() != nil {
			t.Errorf("Compile(%q) is not the empty condition: %s", raw, e.JSON())
		}
		if ok, steps := e.Trace(cond.Map{}); !ok || steps != nil {
			t.Errorf("Trace of %q = %v, %v", raw, ok, steps)
		}
	}
	var nilExpr *cond.Expr
	if !nilExpr.Eval(cond.Map{}) || !nilExpr.Always() || string(nilExpr.JSON()) != "{}" {
		t.Error("a nil Expr must always match")
	}
	if mustCompile(t, leaf("geo.country", "exists", nil)).Always() {
		t.Error("a comparison is not the empty condition")
	}
}

func TestErrors(t *testing.T) {
	deep := leaf("geo.country", "exists", nil)
	for range cond.MaxDepth - 1 {
		deep = group("not", deep)
	}
	tooDeep := group("all", deep)
	tooDeepField := prefix + ".all[0]" + strings.Repeat(".not", cond.MaxDepth-1)
	many := make([]string, cond.MaxNodes)
	for i := range many {
		many[i] = leaf("company.size", "gt", i)
	}
	longList := make([]string, cond.MaxList+1)
	for i := range longList {
		longList[i] = "v" + strconv.Itoa(i)
	}
	eq := func(v any) string { return leaf("field.company", "eq", v) }

	tests := []struct {
		name  string
		raw   string
		kind  errs.Kind
		field string // after prefix
		msg   string // a part of the message, when it matters
	}{
		// Unreadable.
		{"too large", `{"all":[` + strings.Repeat(" ", cond.MaxSize) + `]}`, errs.TooLarge, "", "larger than 256 KiB"},
		{"syntax at the top", `{"all"`, errs.Malformed, ".all", "ends too soon"},
		{"syntax at the start", `{x`, errs.Malformed, "", "invalid character"},
		{"syntax in a list", `{"all": [`, errs.Malformed, ".all", "ends too soon"},
		{"syntax in a value", `{"all": [{"subject": "field.company", "op": }]}`, errs.Malformed, ".all[0].op", "invalid character"},
		{"missing colon", `{"all": [{"subject" "x"}]}`, errs.Malformed, ".all[0].subject", "invalid character"},
		{"not UTF-8", "{\"subject\": \"field.company\", \"op\": \"eq\", \"value\": \"\xff\"}", errs.Malformed, ".value", "UTF-8"},
		{"data after", `{} {}`, errs.Malformed, "", "more after"},
		{"bare word", `all`, errs.Malformed, "", "invalid character"},

		// Shape.
		{"top level list", `[]`, errs.Invalid, "", "JSON object"},
		{"top level string", `"x"`, errs.Invalid, "", "JSON object"},
		{"unknown key", `{"subject": "field.company", "op": "exists", "extra": 1}`, errs.Invalid, ".extra", "not a key"},
		{"odd key", `{"all": [{"we ird": 1}]}`, errs.Invalid, `.all[0]["we ird"]`, "not a key"},
		{"duplicate key", `{"subject": "field.company", "subject": "field.email", "op": "exists"}`, errs.Invalid, ".subject", "twice"},
		{"duplicate group key", `{"all": [{"not": {"subject": "field.company", "op": "exists"}, "not": {}}]}`, errs.Invalid, ".all[0].not", "twice"},
		{"group and comparison", `{"all": [{"subject": "field.company", "op": "exists", "any": []}]}`, errs.Invalid, ".all[0].any", "cannot stand beside \"subject\""},
		{"two groups", `{"any": [` + eq("a") + `], "all": [` + eq("a") + `]}`, errs.Invalid, ".all", "cannot stand beside \"any\""},
		{"op on a group", `{"all": [` + eq("a") + `], "op": "eq"}`, errs.Invalid, ".op", "belongs to a comparison"},
		{"empty object inside", `{"all": [{}]}`, errs.Invalid, ".all[0]", "is empty"},
		{"op without subject", `{"any": [{"op": "eq", "value": "x"}]}`, errs.Invalid, ".any[0].subject", "required"},
		{"empty all", `{"all": []}`, errs.Invalid, ".all", "empty group"},
		{"empty any", `{"all": [{"any": []}]}`, errs.Invalid, ".all[0].any", "empty group"},
		{"all not a list", `{"all": {}}`, errs.Invalid, ".all", "list of conditions"},
		{"not of null", `{"not": null}`, errs.Invalid, ".not", "must be an object"},
		{"not of a list", `{"not": []}`, errs.Invalid, ".not", "must be an object"},
		{"child not an object", `{"any": [` + eq("a") + `, 1]}`, errs.Invalid, ".any[1]", "must be an object"},

		// Subjects and operators.
		{"unknown subject", `{"all": [` + leaf("field.nope", "eq", "x") + `]}`, errs.Invalid, ".all[0].subject", `"field.nope" is not a subject`},
		{"subject not a string", `{"subject": 3, "op": "eq", "value": "x"}`, errs.Invalid, ".subject", "must be a string"},
		{"missing op", `{"subject": "field.company", "value": "x"}`, errs.Invalid, ".op", "required"},
		{"op not a string", `{"subject": "field.company", "op": ["eq"]}`, errs.Invalid, ".op", "must be a string"},
		{"unknown op", leaf("field.company", "like", "x"), errs.Invalid, ".op", `"like" is not an operator`},
		{"matches on text", leaf("field.company", "matches", "a*"), errs.Invalid, ".op", "not an operator for field.company, a text subject"},
		{"gt on text", leaf("field.company", "gt", 3), errs.Invalid, ".op", "not an operator"},
		{"contains on a number", leaf("company.size", "contains", "3"), errs.Invalid, ".op", "not an operator"},
		{"eq on a territory", leaf("geo.territory", "eq", "EMEA"), errs.Invalid, ".op", "use one of in, not_in"},
		{"eq on a bool", leaf("account.target", "eq", true), errs.Invalid, ".op", "not an operator"},
		{"op case matters", leaf("field.company", "EQ", "x"), errs.Invalid, ".op", "not an operator"},

		// Values.
		{"missing value", `{"subject": "field.company", "op": "eq"}`, errs.Invalid, ".value", "required for eq"},
		{"null value", `{"subject": "field.company", "op": "in", "value": null}`, errs.Invalid, ".value", "required for in"},
		{"value for exists", `{"subject": "field.company", "op": "exists", "value": "x"}`, errs.Invalid, ".value", "takes no value"},
		{"text wants a string", eq(5), errs.Invalid, ".value", "must be a string"},
		{"text wants one string", eq([]string{"a"}), errs.Invalid, ".value", "must be a string"},
		{"number wants a number", leaf("company.size", "eq", "5"), errs.Invalid, ".value", "must be a number"},
		{"number out of range", `{"subject": "company.size", "op": "lt", "value": 1e999}`, errs.Invalid, ".value", "out of range"},
		{"bool wants a bool", leaf("account.target", "is", "true"), errs.Invalid, ".value", "true or false"},
		{"in wants a list", leaf("field.company", "in", "Acme"), errs.Invalid, ".value", "list of strings"},
		{"in wants strings", leaf("field.company", "in", []any{"Acme", 1}), errs.Invalid, ".value[1]", "must be a string"},
		{"between wants two numbers", leaf("company.size", "between", []int{1}), errs.Invalid, ".value", "two numbers"},
		{"between wants numbers", leaf("company.size", "between", []any{1, "2"}), errs.Invalid, ".value[1]", "must be a number"},
		{"empty string", eq(""), errs.Invalid, ".value", "is empty"},
		{"empty string in a list", leaf("field.company", "in", []string{"a", ""}), errs.Invalid, ".value[1]", "is empty"},
		{"control character", eq("a\u0000b"), errs.Invalid, ".value", "control characters"},
		{"line break", leaf("field.company", "contains", "a\nb"), errs.Invalid, ".value", "control characters"},
		{"bidi override", eq("a\u202eb"), errs.Invalid, ".value", "control characters"},
		{"leading space for eq", eq(" Acme"), errs.Invalid, ".value", "white space"},
		{"trailing space in a list", leaf("visitor.previous_rep", "in", []string{"usr_1", "usr_2 "}), errs.Invalid, ".value[1]", "white space"},
		{"string too long", eq(strings.Repeat("a", cond.MaxString+1)), errs.Invalid, ".value", "longer than 1000 bytes"},
		{"list too long", leaf("field.company", "in", longList), errs.Invalid, ".value", "more than 1000 items"},
		{"repeated value", leaf("field.company", "in", []string{"Acme", "Globex", "ACME"}), errs.Invalid, ".value[2]", `repeats "ACME"`},
		{"repeated country", leaf("geo.country", "not_in", []string{"de", "DE"}), errs.Invalid, ".value[1]", `repeats "DE"`},
		{"picklist value not an option", leaf("field.plan", "eq", "Gold"), errs.Invalid, ".value", `"Gold" is not one of the options of field.plan (Free, Pro, Enterprise)`},
		{"picklist list value not an option", leaf("field.plan", "in", []string{"Pro", "Gold"}), errs.Invalid, ".value[1]", "not one of the options"},
		{"unknown country", leaf("geo.country", "eq", "XX"), errs.Invalid, ".value", `"XX" is not an ISO 3166 country code`},
		{"three-letter country", leaf("geo.country", "in", []string{"DEU"}), errs.Invalid, ".value[0]", "not an ISO 3166 country code"},
		{"unknown territory", leaf("geo.territory", "in", []string{"EMEA", "Mars"}), errs.Invalid, ".value[1]", `"Mars" is not a territory (AMER, DACH, EMEA, Empty)`},
		{"territory not a list", leaf("geo.territory", "in", "EMEA"), errs.Invalid, ".value", "list of territory names"},
		{"unknown user", leaf("visitor.previous_rep", "eq", "bob"), errs.Invalid, ".value", `"bob" is not a user`},
		{"double star", leaf("session.page_url", "matches", "https://acme.com/**"), errs.Invalid, ".value", "**"},
		{"only a star", leaf("session.page_url", "matches", "*"), errs.Invalid, ".value", "use exists"},
		{"empty pattern", leaf("session.page_url", "matches", ""), errs.Invalid, ".value", "is empty"},

		// Limits.
		{"too deep", tooDeep, errs.Invalid, strings.TrimPrefix(tooDeepField, prefix), "more than 12 levels"},
		{"too many nodes", group("any", many...), errs.Invalid, ".any[499]", "limit of 500"},
		{"JSON nested too deeply", strings.Repeat(`{"not":`, 40) + "{}" + strings.Repeat("}", 40), errs.Invalid, strings.Repeat(".not", 32), "nested too deeply"},
		{"value nested too deeply", `{"subject": "field.company", "op": "in", "value": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, errs.Invalid, ".value" + strings.Repeat("[0]", 31), "nested too deeply"},

		// Comparisons that can never hold.
		{"in nothing", leaf("field.company", "in", []string{}), errs.Invalid, ".value", "never match"},
		{"not_in nothing", leaf("geo.country", "not_in", []string{}), errs.Invalid, ".value", "excludes nothing"},
		{"empty range", leaf("company.size", "between", []int{5, 1}), errs.Invalid, ".value", "empty range: 5 is greater than 1"},
		{"empty territory", leaf("geo.territory", "in", []string{"empty"}), errs.Invalid, ".value", "without countries"},

		// Groups that can never match.
		{"eq and eq", group("all", eq("Acme"), eq("Globex")), errs.Invalid, "",
			`can never match: field.company eq "Acme" (all[0]) and field.company eq "Globex" (all[1]) cannot both hold`},
		{"nested group is named", group("any", leaf("geo.country", "exists", nil), group("all", eq("Acme"), eq("Globex"))), errs.Invalid, ".any[1]", "can never match"},
		{"eq and neq", group("all", eq("Acme"), leaf("field.company", "neq", "ACME")), errs.Invalid, "", "cannot both hold"},
		{"eq and not_in", group("all", leaf("geo.country", "eq", "DE"), leaf("geo.country", "not_in", []string{"FR", "de"})), errs.Invalid, "", "cannot both hold"},
		{"in lists apart", group("all", leaf("field.plan", "in", []string{"Free", "Pro"}), leaf("field.plan", "in", []string{"Enterprise"})), errs.Invalid, "", "cannot both hold"},
		{"exists and not_exists", group("all", leaf("field.email", "exists", nil), leaf("company.size", "gt", 1), leaf("field.email", "not_exists", nil)), errs.Invalid, "",
			"field.email exists (all[0]) and field.email not_exists (all[2]) cannot both hold"},
		{"eq and not_exists", group("all", eq("Acme"), leaf("field.company", "not_exists", nil)), errs.Invalid, "", "cannot both hold"},
		{"gt 10 and lt 5", group("all", leaf("company.size", "gt", 10), leaf("company.size", "lt", 5)), errs.Invalid, "",
			"company.size gt 10 (all[0]) and company.size lt 5 (all[1]) cannot both hold"},
		{"gt and lte the same", group("all", leaf("company.size", "gt", 5), leaf("company.size", "lte", 5)), errs.Invalid, "", "cannot both hold"},
		{"between and gt its top", group("all", leaf("company.size", "between", []int{1, 3}), leaf("company.size", "gt", 3)), errs.Invalid, "", "cannot both hold"},
		{"number eq and neq", group("all", leaf("company.size", "eq", 5), leaf("company.size", "neq", 5)), errs.Invalid, "", "cannot both hold"},
		{"range squeezed to an excluded point", group("all", leaf("company.size", "gte", 5), leaf("company.size", "neq", 5), leaf("company.size", "lte", 5)), errs.Invalid, "",
			"company.size gte 5 (all[0]), company.size neq 5 (all[1]), company.size lte 5 (all[2]) cannot all hold"},
		{"is true and is false", group("all", leaf("account.target", "is", true), leaf("account.target", "is", false)), errs.Invalid, "", "cannot both hold"},
		{"country and territory", group("all", leaf("geo.country", "eq", "US"), leaf("geo.territory", "in", []string{"EMEA"})), errs.Invalid, "",
			`geo.country eq US (all[0]) and geo.territory in EMEA (all[1]) cannot both hold`},
		{"territory in and not_in", group("all", leaf("geo.territory", "in", []string{"DACH"}), leaf("geo.territory", "not_in", []string{"EMEA", "dach"})), errs.Invalid, "", "cannot both hold"},
		{"eq and starts_with", group("all", eq("Acme"), leaf("field.company", "starts_with", "Glob")), errs.Invalid, "", "cannot both hold"},
		{"two prefixes", group("all", leaf("session.page_url", "starts_with", "http://"), leaf("session.page_url", "matches", "https://*")), errs.Invalid, "", "cannot both hold"},
		{"two suffixes", group("all", leaf("field.email", "ends_with", ".com"), leaf("field.email", "ends_with", ".org")), errs.Invalid, "", "cannot both hold"},
		{"contains and not_contains", group("all", leaf("field.company", "contains", "acme"), leaf("field.company", "not_contains", "CM")), errs.Invalid, "", "cannot both hold"},
		{"pattern and not_contains", group("all", leaf("session.page_url", "matches", "*/pricing*"), leaf("session.page_url", "not_contains", "pricing")), errs.Invalid, "", "cannot both hold"},
		{"prefix and negated prefix", group("all", leaf("field.email", "starts_with", "sales@"), group("not", leaf("field.email", "starts_with", "sal"))), errs.Invalid, "", "not field.email starts_with \"sal\" (all[1].not)"},
		{"eq and not eq", group("all", eq("Acme"), group("not", eq("acme"))), errs.Invalid, "", "cannot both hold"},
		{"through a nested all", group("all", eq("Acme"), group("all", leaf("geo.country", "exists", nil), eq("Globex"))), errs.Invalid, "",
			`field.company eq "Acme" (all[0]) and field.company eq "Globex" (all[1].all[1]) cannot both hold`},
		{"through not any", group("all", eq("Acme"), group("not", group("any", leaf("geo.country", "exists", nil), leaf("field.company", "exists", nil)))), errs.Invalid, "", "cannot both hold"},
		{"gt and not gt", group("all", leaf("company.size", "gt", 5), group("not", leaf("company.size", "gt", 3))), errs.Invalid, "", "not company.size gt 3 (all[1].not)"},
		{"is true and not is true", group("all", leaf("account.target", "is", true), group("not", leaf("account.target", "is", true))), errs.Invalid, "", "cannot both hold"},
		{"suffix and negated suffix", group("all", leaf("field.email", "ends_with", "@acme.com"), group("not", leaf("field.email", "ends_with", "COM"))), errs.Invalid, "", "cannot both hold"},
		{"many-way contradiction is listed", group("all", append(func() []string {
			var l []string
			for i := range 30 {
				l = append(l, leaf("company.size", "neq", i))
			}
			return l
		}(), leaf("company.size", "gte", 29), leaf("company.size", "lte", 29))...), errs.Invalid, "", "company.size neq 0 (all[0]), company.size neq 1 (all[1]), company.size neq 2 (all[2])"},
		{"long unknown subject is cut", leaf(strings.Repeat("é", 40), "eq", "x"), errs.Invalid, ".subject", `"` + strings.Repeat("é", 30) + `…" is not a subject`},
		{"not of what always holds", group("not", group("any", leaf("field.email", "exists", nil), leaf("field.email", "not_exists", nil))), errs.Invalid, "",
			`can never match: what "not" negates always holds, since field.email exists (not.any[0]) and field.email not_exists (not.any[1]) cannot both fail`},
		{"not of what always holds, nested", group("all", eq("Acme"), group("not", group("any", leaf("company.size", "lt", 10), leaf("company.size", "gte", 10), leaf("company.size", "not_exists", nil)))), errs.Invalid, ".all[1]", "cannot all fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cond.Compile([]byte(tt.raw), prefix, schema)
			e := errs.As(err)
			if e == nil {
				t.Fatalf("Compile(%.200s) = %v, want an *errs.Error", tt.raw, err)
			}
			if e.Kind != tt.kind || e.Field != prefix+tt.field || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("Compile(%.200s) = %v (%s, field %q), want %s on %q with %q", tt.raw, err, e.Kind, e.Field, tt.kind, prefix+tt.field, tt.msg)
			}
		})
	}
}

func TestPossibleGroupsPass(t *testing.T) {
	for _, raw := range []string{
		group("all", leaf("company.size", "gte", 5), leaf("company.size", "lte", 5)),
		group("all", leaf("company.size", "gt", 5), leaf("company.size", "neq", 6), leaf("company.size", "lt", 7)),
		group("all", leaf("field.company", "eq", "Acme"), leaf("field.company", "eq", "ACME")),
		group("all", leaf("field.company", "neq", "Acme"), leaf("field.company", "not_exists", nil)),
		group("all", leaf("field.company", "starts_with", "ac"), leaf("field.company", "starts_with", "ACME")),
		group("all", leaf("field.company", "contains", "acme"), leaf("field.company", "not_contains", "globex")),
		group("all", leaf("geo.territory", "in", []string{"DACH"}), leaf("geo.territory", "not_in", []string{"EMEA"})),
		group("all", leaf("geo.country", "neq", "US"), leaf("geo.territory", "in", []string{"AMER"})),
		group("all", leaf("field.plan", "exists", nil), leaf("field.plan", "not_in", []string{"Free", "Pro"}), leaf("field.plan", "neq", "Enterprise")),
		group("any", leaf("field.company", "eq", "Acme"), leaf("field.company", "eq", "Globex")),
		group("any", leaf("field.email", "exists", nil), leaf("field.email", "not_exists", nil)),
		group("not", group("any", leaf("field.email", "exists", nil), leaf("company.size", "gt", 3))),
		group("not", group("all", leaf("field.email", "exists", nil), leaf("field.email", "neq", "a@b.io"))),
		group("all", leaf("account.target", "is", true), group("not", leaf("account.target", "is", false))),
		group("all", leaf("session.page_url", "matches", "https://*"), leaf("session.page_url", "starts_with", "HTTPS://acme")),
	} {
		if _, err := cond.Compile([]byte(raw), prefix, schema); err != nil {
			t.Errorf("Compile(%s): %v", raw, err)
		}
	}
}

func TestEmptyPathAndBadSchema(t *testing.T) {
	_, err := cond.Compile([]byte(`{"all": []}`), "", schema)
	if e := errs.As(err); e == nil || e.Field != "all" {
		t.Errorf("with no path: %v", err)
	}
	_, err = cond.Compile([]byte(`[]`), "", schema)
	if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != "" {
		t.Errorf("the root with no path: %v", err)
	}
	bad := cond.Schema{Subjects: []cond.Subject{{Name: "x"}}}
	_, err = cond.Compile([]byte(leaf("x", "exists", nil)), prefix, bad)
	if err == nil || errs.KindOf(err) != errs.Internal {
		t.Errorf("a subject without a kind: %v", err)
	}
	// No ValidUser: any id is accepted; no territories: none is known.
	open := cond.Schema{Subjects: schema.Subjects}
	if _, err := cond.Compile([]byte(leaf("visitor.previous_rep", "eq", "bob")), prefix, open); err != nil {
		t.Errorf("without ValidUser: %v", err)
	}
	_, err = cond.Compile([]byte(leaf("geo.territory", "in", []string{"EMEA"})), prefix, open)
	if e := errs.As(err); e == nil || !strings.Contains(e.Message, "none is defined") {
		t.Errorf("without territories: %v", err)
	}
}

func TestLongOptionListIsCut(t *testing.T) {
	s := cond.Schema{Subjects: []cond.Subject{{Name: "field.tier", Kind: cond.Picklist, Options: companies(20)}}}
	_, err := cond.Compile([]byte(leaf("field.tier", "eq", "Gold")), prefix, s)
	if e := errs.As(err); e == nil || !strings.HasSuffix(e.Message, "Company 10, Company 11 and 8 more)") {
		t.Errorf("%v", err)
	}
}

func TestTerritoryNames(t *testing.T) {
	s := cond.Schema{Subjects: schema.Subjects, Territories: map[string][]string{"emea": {"DE"}, "EMEA": {"FR"}, "Apac": {"JP"}}}
	for _, tt := range []struct{ in, want string }{{"EMEA", "EMEA"}, {"emea", "emea"}, {"Emea", "EMEA"}, {"APAC", "Apac"}} {
		e, err := cond.Compile([]byte(leaf("geo.territory", "in", []string{tt.in})), prefix, s)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"subject":"geo.territory","op":"in","value":["` + tt.want + `"]}`; string(e.JSON()) != want {
			t.Errorf("%s: %s, want %s", tt.in, e.JSON(), want)
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{` { "value": "de", "op": "eq", "subject": "geo.country" } `, `{"subject":"geo.country","op":"eq","value":"DE"}`},
		{`{"subject": "field.plan", "op": "in", "value": ["pro", "FREE"]}`, `{"subject":"field.plan","op":"in","value":["Pro","Free"]}`},
		{`{"subject": "geo.territory", "op": "not_in", "value": ["emea", "dach"]}`, `{"subject":"geo.territory","op":"not_in","value":["EMEA","DACH"]}`},
		{`{"subject": "field.company", "op": "exists", "value": null}`, `{"subject":"field.company","op":"exists"}`},
		{`{"subject": "company.size", "op": "between", "value": [2.50, 1e3]}`, `{"subject":"company.size","op":"between","value":[2.5,1000]}`},
		{`{"subject": "company.size", "op": "gt", "value": -0.0000001}`, `{"subject":"company.size","op":"gt","value":-1e-7}`},
		{`{"subject": "company.size", "op": "lt", "value": 1e30}`, `{"subject":"company.size","op":"lt","value":1e+30}`},
		{`{"subject": "field.company", "op": "contains", "value": " \"Ac\\me\" <&> \u2028 é"}`, "{\"subject\":\"field.company\",\"op\":\"contains\",\"value\":\" \\\"Ac\\\\me\\\" <&> \u2028 é\"}"},
		{`{"not": {"any": [{"subject": "account.target", "op": "is", "value": false}, {"all": [{"subject": "geo.region", "op": "eq", "value": "apac"}]}]}}`,
			`{"not":{"any":[{"subject":"account.target","op":"is","value":false},{"all":[{"subject":"geo.region","op":"eq","value":"APAC"}]}]}}`},
	}
	for _, tt := range tests {
		e := mustCompile(t, tt.in)
		if got := string(e.JSON()); got != tt.want {
			t.Errorf("JSON of %s\n got %s\nwant %s", tt.in, got, tt.want)
		}
		again := mustCompile(t, string(e.JSON()))
		if !reflect.DeepEqual(e, again) {
			t.Errorf("%s does not compile back to the same Expr", e.JSON())
		}
	}
}

// TestRoundTrip compiles every operator of every kind back from its JSON.
func TestRoundTrip(t *testing.T) {
	values := map[cond.Kind]map[cond.Shape]any{
		cond.Text:      {cond.OneValue: "Acme", cond.ListValue: []string{"Acme", "Globex"}},
		cond.URL:       {cond.OneValue: "*/pricing*", cond.ListValue: []string{"https://acme.com/"}},
		cond.Number:    {cond.OneValue: 42.5, cond.RangeValue: []float64{1, 10}},
		cond.Bool:      {cond.OneValue: true},
		cond.Picklist:  {cond.OneValue: "pro", cond.ListValue: []string{"free", "Enterprise"}},
		cond.Country:   {cond.OneValue: "fr", cond.ListValue: []string{"us", "CA"}},
		cond.Territory: {cond.ListValue: []string{"amer", "DACH"}},
		cond.User:      {cond.OneValue: "usr_1", cond.ListValue: []string{"usr_1", "usr_2"}},
	}
	subjectOf := map[cond.Kind]string{cond.Text: "field.company", cond.URL: "session.page_url", cond.Number: "company.size",
		cond.Bool: "account.target", cond.Picklist: "field.plan", cond.Country: "geo.country", cond.Territory: "geo.territory",
		cond.User: "visitor.previous_rep"}
	var all []string
	for k := cond.Text; k <= cond.User; k++ {
		for _, op := range cond.Ops(k) {
			var v any
			if op.Value != cond.NoValue {
				v = values[k][op.Value]
			}
			raw := leaf(subjectOf[k], op.Name, v)
			e := mustCompile(t, raw)
			again := mustCompile(t, string(e.JSON()))
			if !reflect.DeepEqual(e, again) || string(again.JSON()) != string(e.JSON()) {
				t.Errorf("%s → %s does not round-trip", raw, e.JSON())
			}
			all = append(all, raw)
		}
	}
	e := mustCompile(t, group("any", all...))
	if again := mustCompile(t, string(e.JSON())); !reflect.DeepEqual(e, again) {
		t.Errorf("the group of every comparison does not round-trip")
	}
}

func TestOps(t *testing.T) {
	names := func(k cond.Kind) string {
		var out []string
		for _, op := range cond.Ops(k) {
			if op.Label == "" {
				t.Errorf("%s %s has no label", k, op.Name)
			}
			out = append(out, op.Name)
		}
		return strings.Join(out, " ")
	}
	want := map[cond.Kind]string{
		cond.Text:      "eq neq in not_in contains not_contains starts_with ends_with exists not_exists",
		cond.URL:       "eq neq in not_in contains not_contains starts_with ends_with matches exists not_exists",
		cond.Number:    "eq neq gt gte lt lte between exists not_exists",
		cond.Bool:      "is exists not_exists",
		cond.Picklist:  "eq neq in not_in exists not_exists",
		cond.Country:   "eq neq in not_in exists not_exists",
		cond.Territory: "in not_in",
		cond.User:      "eq neq in not_in exists not_exists",
	}
	for k, w := range want {
		if got := names(k); got != w {
			t.Errorf("Ops(%s) = %s, want %s", k, got, w)
		}
	}
	if cond.Ops(0) != nil || cond.Ops(99) != nil {
		t.Error("Ops of an unknown kind must be nil")
	}
	ops := cond.Ops(cond.Number)
	ops[0].Name = "changed"
	if cond.Ops(cond.Number)[0].Name != "eq" {
		t.Error("Ops must return the caller's own slice")
	}
	b, err := json.Marshal(struct {
		Kind cond.Kind
		Ops  []cond.Op
	}{cond.Bool, cond.Ops(cond.Bool)[:1]})
	if err != nil || string(b) != `{"Kind":"bool","Ops":[{"name":"is","label":"is","value":"one"}]}` {
		t.Errorf("JSON of the catalogue: %s, %v", b, err)
	}
	if cond.Kind(0).String() != "Kind(0)" || cond.Shape(7).String() != "Shape(7)" || cond.RangeValue.String() != "range" {
		t.Error("names of unknown kinds and shapes")
	}
}

func TestFactNames(t *testing.T) {
	e := mustCompile(t, group("any", leaf("geo.territory", "in", []string{"EMEA"}), leaf("company.size", "gt", 3),
		group("not", leaf("geo.territory", "not_in", []string{"AMER"})), leaf("field.company", "exists", nil)))
	if got, want := e.FactNames(), []string{"company.size", "field.company", "geo.country"}; !slices.Equal(got, want) {
		t.Errorf("FactNames = %v, want %v", got, want)
	}
}

func TestTrace(t *testing.T) {
	e := mustCompile(t, group("all",
		leaf("geo.territory", "in", []string{"emea"}),
		group("any", leaf("company.size", "between", []int{50, 500}), leaf("account.target", "is", true)),
		group("not", leaf("session.page_url", "matches", "*/careers*")),
		leaf("field.plan", "in", []string{"Pro", "Enterprise"}),
	))
	f := cond.Map{"geo.country": "DE", "company.size": 20, "account.target": true, "session.page_url": "https://acme.com/pricing"}
	ok, steps := e.Trace(f)
	if ok || e.Eval(f) {
		t.Fatal("the visitor has no plan, so the condition fails")
	}
	want := []cond.Step{
		{Path: "all[0]", Subject: "geo.territory", Fact: "geo.country", Op: "in", Want: "EMEA", Got: "DE", Known: true, Held: true},
		{Path: "all[1].any[0]", Subject: "company.size", Fact: "company.size", Op: "between", Want: "50 to 500", Got: "20", Known: true, Held: false},
		{Path: "all[1].any[1]", Subject: "account.target", Fact: "account.target", Op: "is", Want: "true", Got: "true", Known: true, Held: true},
		{Path: "all[2].not", Subject: "session.page_url", Fact: "session.page_url", Op: "matches", Want: `"*/careers*"`, Got: `"https://acme.com/pricing"`, Known: true, Held: false},
		{Path: "all[3]", Subject: "field.plan", Fact: "field.plan", Op: "in", Want: "Pro, Enterprise", Known: false, Held: false},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Fatalf("steps:\n%#v\nwant\n%#v", steps, want)
	}
	lines := make([]string, len(steps))
	for i, s := range steps {
		lines[i] = s.String()
	}
	wantLines := []string{
		"geo.country DE in territory EMEA: true",
		"company.size 20 between 50 to 500: false",
		"account.target true is true: true",
		`session.page_url "https://acme.com/pricing" matches "*/careers*": false`,
		"field.plan (unknown) in Pro, Enterprise: false",
	}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("lines:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}

	// Short-circuit: the first failing comparison of an all ends the trace.
	_, steps = e.Trace(cond.Map{"geo.country": "US"})
	if len(steps) != 1 || steps[0].Held || steps[0].String() != "geo.country US in territory EMEA: false" {
		t.Errorf("short-circuit: %v", steps)
	}
	_, steps = mustCompile(t, leaf("geo.territory", "not_in", []string{"AMER"})).Trace(cond.Map{})
	if len(steps) != 1 || steps[0].Path != "" || steps[0].String() != "geo.country (unknown) not in territory AMER: true" {
		t.Errorf("a single comparison: %v", steps)
	}
	_, steps = mustCompile(t, leaf("field.company", "in", companies(100))).Trace(cond.Map{"field.company": "Company 99"})
	if w := steps[0].Want; !steps[0].Held || len(w) > 250 || !strings.HasPrefix(w, `"Company 0", "Company 1"`) || !strings.HasSuffix(w, "and 85 more") {
		t.Errorf("a long list is cut: %s", w)
	}
	_, steps = mustCompile(t, leaf("field.email", "exists", nil)).Trace(cond.Map{"field.email": "a@b.io"})
	if steps[0].String() != `field.email "a@b.io" exists: true` {
		t.Errorf("exists: %v", steps[0])
	}
}

func TestMapFacts(t *testing.T) {
	m := cond.Map{"s": "x", "e": "", "f": 1.5, "i": 3, "n": math.NaN(), "b": false, "o": int64(2)}
	if v, ok := m.Text("s"); !ok || v != "x" {
		t.Error("Text of a string")
	}
	if _, ok := m.Text("e"); ok {
		t.Error("an empty string is unknown")
	}
	if _, ok := m.Text("f"); ok {
		t.Error("Text of a number")
	}
	if v, ok := m.Number("f"); !ok || v != 1.5 {
		t.Error("Number of a float64")
	}
	if v, ok := m.Number("i"); !ok || v != 3 {
		t.Error("Number of an int")
	}
	for _, k := range []string{"n", "o", "s", "missing"} {
		if _, ok := m.Number(k); ok {
			t.Errorf("Number(%s) must be unknown", k)
		}
	}
	if v, ok := m.Bool("b"); !ok || v {
		t.Error("Bool of a bool")
	}
	if _, ok := m.Bool("s"); ok {
		t.Error("Bool of a string")
	}
}
