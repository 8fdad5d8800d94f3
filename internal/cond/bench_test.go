package cond_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/cond"
)

// visitorFacts is Facts as routing might build it: fields of a struct, found by a switch on the
// subject, no map and no allocation.
type visitorFacts struct {
	company, email, utmSource, pageURL, referrer, plan, region, country, previousRep string
	size                                                                             float64
	hasSize, target, returning                                                       bool
}

func (v *visitorFacts) Text(subject string) (string, bool) {
	var s string
	switch subject {
	case "field.company":
		s = v.company
	case "field.email":
		s = v.email
	case "session.utm_source":
		s = v.utmSource
	case "session.page_url":
		s = v.pageURL
	case "session.referrer":
		s = v.referrer
	case "field.plan":
		s = v.plan
	case "geo.region":
		s = v.region
	case "geo.country":
		s = v.country
	case "visitor.previous_rep":
		s = v.previousRep
	}
	return s, s != ""
}

func (v *visitorFacts) Number(subject string) (float64, bool) {
	if subject == "company.size" {
		return v.size, v.hasSize
	}
	return 0, false
}

func (v *visitorFacts) Bool(subject string) (bool, bool) {
	switch subject {
	case "account.target":
		return v.target, true
	case "visitor.returning":
		return v.returning, true
	}
	return false, false
}

var benchVisitor = &visitorFacts{
	company: "Initech GmbH", email: "peter@initech.example", utmSource: "linkedin",
	pageURL: "https://acme.com/pricing/enterprise?utm_source=linkedin", referrer: "https://www.google.de/",
	plan: "Pro", region: "EMEA", country: "DE", previousRep: "usr_7", size: 180, hasSize: true,
}

// benchRules returns 200 compiled rules of mixed shapes, none of which matches benchVisitor, so
// that a decision evaluates every one of them (the worst case of first-match routing).
func benchRules(tb testing.TB) []*cond.Expr {
	long := companies(40)
	shapes := []func(i int) string{
		func(i int) string {
			return group("all", leaf("geo.territory", "in", []string{"AMER"}), leaf("company.size", "gte", 50+i))
		},
		func(i int) string {
			return group("all", leaf("session.page_url", "matches", "*/pricing*"), leaf("field.plan", "eq", "Enterprise"),
				leaf("account.target", "is", true))
		},
		func(i int) string {
			return group("any", leaf("field.company", "in", long), leaf("field.email", "ends_with", "@co"+strconv.Itoa(i)+".example"))
		},
		func(i int) string {
			return group("all", leaf("session.utm_source", "eq", "google"), group("not", leaf("geo.country", "in", []string{"US", "CA", "MX"})))
		},
		func(i int) string {
			return group("all", leaf("company.size", "between", []int{1000, 5000 + i}), leaf("geo.region", "in", []string{"EMEA", "APAC"}))
		},
		func(i int) string {
			return group("all", leaf("visitor.previous_rep", "exists", nil), leaf("visitor.previous_rep", "neq", "usr_7"))
		},
		func(i int) string {
			return group("any", leaf("session.referrer", "contains", "bing"), leaf("field.company", "starts_with", "Acme "+strconv.Itoa(i)))
		},
		func(i int) string {
			return group("all", leaf("geo.territory", "not_in", []string{"EMEA"}), leaf("field.company", "not_contains", "test"))
		},
	}
	rules := make([]*cond.Expr, 200)
	for i := range rules {
		rules[i] = mustCompile(tb, shapes[i%len(shapes)](i))
	}
	return rules
}

// BenchmarkEval evaluates 200 rules against one visitor, as one routing decision does when no
// rule matches before the last.
func BenchmarkEval(b *testing.B) {
	rules := benchRules(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rules {
			if r.Eval(benchVisitor) {
				b.Fatal("no rule should match")
			}
		}
	}
}

// BenchmarkEvalMap is BenchmarkEval with the facts in a cond.Map.
func BenchmarkEvalMap(b *testing.B) {
	rules := benchRules(b)
	v := benchVisitor
	m := cond.Map{"field.company": v.company, "field.email": v.email, "session.utm_source": v.utmSource,
		"session.page_url": v.pageURL, "session.referrer": v.referrer, "field.plan": v.plan, "geo.region": v.region,
		"geo.country": v.country, "visitor.previous_rep": v.previousRep, "company.size": v.size,
		"account.target": false, "visitor.returning": false}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rules {
			if r.Eval(m) {
				b.Fatal("no rule should match")
			}
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	raw := []byte(group("all", leaf("geo.territory", "in", []string{"EMEA"}), leaf("session.page_url", "matches", "*/pricing*"),
		leaf("company.size", "between", []int{50, 500}), group("not", leaf("field.company", "in", companies(40)))))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cond.Compile(raw, prefix, schema); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEvalDoesNotAllocate(t *testing.T) {
	rules := benchRules(t)
	// A visitor for whom every kind of comparison runs, the long lists included.
	v := *benchVisitor
	v.company = "company 39"
	allocs := testing.AllocsPerRun(100, func() {
		for _, r := range rules {
			r.Eval(&v)
			r.Eval(benchVisitor)
		}
	})
	if allocs != 0 {
		t.Errorf("Eval allocates %v times for 200 rules", allocs)
	}
}

// BenchmarkCompileWorst compiles conditions built to make the contradiction check work hard:
// hundreds of long texts that contain each other. The check's budget keeps each in tens of
// milliseconds.
func BenchmarkCompileWorst(b *testing.B) {
	var contains, cands []string
	for i := range 499 {
		op := "contains"
		if i%2 == 1 {
			op = "not_contains"
		}
		contains = append(contains, leaf("field.company", op, strings.Repeat("ab", 200)+"c"[:i%2]))
	}
	long := make([]string, 100)
	for i := range long {
		long[i] = strings.Repeat("a", 990) + strconv.Itoa(i)
	}
	cands = append(cands, leaf("field.company", "in", long))
	for i := range 100 {
		cands = append(cands, leaf("field.company", "contains", strings.Repeat("a", 500)+"b"[:i%2]))
	}
	for _, raw := range []string{group("all", contains...), group("all", cands...)} {
		b.Run("", func(b *testing.B) {
			for b.Loop() {
				cond.Compile([]byte(raw), prefix, schema)
			}
		})
	}
}
