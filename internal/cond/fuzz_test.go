package cond_test

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/cond"
	"github.com/beckonhq/beckon/internal/errs"
)

var fuzzFacts = []cond.Map{
	{},
	{"field.company": "Acme", "session.page_url": "https://acme.com/pricing", "company.size": 250, "account.target": true,
		"field.plan": "Pro", "geo.country": "DE", "visitor.previous_rep": "usr_1", "geo.region": "EMEA"},
	{"field.company": "globex", "session.page_url": "/x.pdf", "company.size": -1.5, "account.target": false,
		"field.plan": "free", "geo.country": "us", "visitor.previous_rep": "usr_2", "field.email": "a@acme.com"},
}

// FuzzCompile feeds arbitrary bytes to Compile: it must never panic; it refuses only with an
// *errs.Error of kind Invalid, Malformed or TooLarge whose Field is within the path given; and
// what it accepts must come back unchanged through JSON, and evaluate the same with Eval and
// Trace.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"all": []}`, `{"all": [{}]}`, `{"not": null}`, `{"all"`, `{"a":1,"a":2}`,
		leaf("field.company", "eq", "Acme"),
		leaf("field.company", "in", append(companies(9), "Kelvin")),
		leaf("session.page_url", "matches", "*/pricing*"),
		leaf("session.page_url", "matches", "https://*.acme.com/**"),
		leaf("company.size", "between", []float64{1, 1e300}),
		leaf("company.size", "gt", 1e-9),
		leaf("account.target", "is", false),
		leaf("field.plan", "in", []string{"pro", "free"}),
		leaf("geo.country", "not_in", []string{"de", "fr"}),
		leaf("geo.territory", "in", []string{"emea", "Empty"}),
		leaf("visitor.previous_rep", "eq", "usr_9"),
		leaf("field.email", "exists", nil),
		group("all", leaf("company.size", "gt", 10), leaf("company.size", "lt", 5)),
		group("all", leaf("geo.country", "eq", "US"), leaf("geo.territory", "in", []string{"EMEA"})),
		group("not", group("any", leaf("field.email", "exists", nil), leaf("field.email", "not_exists", nil))),
		group("any", group("all", leaf("geo.region", "eq", "apac"), group("not", leaf("field.company", "contains", "test"))),
			leaf("company.size", "between", []int{5, 1})),
		`{"subject": "field.company", "op": "contains", "value": "\u2028\ud83d\ude00\"\\"}`,
		"{\"subject\": \"field.company\", \"op\": \"eq\", \"value\": \"\xff\"}",
		`{"subject": "company.size", "op": "eq", "value": 1e999}`,
		`{"subject": "company.size", "op": "eq", "value": -0}`,
		`{"any": [{"subject": "field.company", "op": "eq", "value": "a"}], "we ird": 1}`,
		strings.Repeat(`{"not":`, 30) + "{}" + strings.Repeat("}", 30),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := cond.Compile(raw, prefix, schema)
		if err != nil {
			ee := errs.As(err)
			if ee == nil || ee.Message == "" || !strings.HasPrefix(ee.Field, prefix) {
				t.Fatalf("Compile(%q): unclassified error %v", raw, err)
			}
			switch ee.Kind {
			case errs.Invalid, errs.Malformed, errs.TooLarge:
			default:
				t.Fatalf("Compile(%q): error of kind %s: %v", raw, ee.Kind, err)
			}
			return
		}
		out := e.JSON()
		if !json.Valid(out) {
			t.Fatalf("JSON of %q is not JSON: %s", raw, out)
		}
		again, err := cond.Compile(out, prefix, schema)
		if err != nil {
			t.Fatalf("%q compiled, but its JSON %s does not: %v", raw, out, err)
		}
		if !reflect.DeepEqual(e, again) || !bytes.Equal(again.JSON(), out) {
			t.Fatalf("%q → %s → %s: not the same condition", raw, out, again.JSON())
		}
		for _, f := range fuzzFacts {
			ok := e.Eval(f)
			if tr, _ := e.Trace(f); tr != ok {
				t.Fatalf("%s: Eval %v, Trace %v for %v", out, ok, tr, f)
			}
		}
	})
}

// gen builds a random condition from fuzz bytes, over the test schema and small pools of values
// chosen so that comparisons often hold.
type gen struct {
	data []byte
	i    int
}

func (g *gen) n(k int) int {
	if g.i >= len(g.data) {
		return 0
	}
	b := g.data[g.i]
	g.i++
	return int(b) % k
}

var (
	textValues = []string{"acme", "ACME", "ac", "me", "cm", "Globex", "x.y", "a?b", "c++", "@acme.com", "https://acme.com/",
		"*/pricing*", "https://acme.com/*", "*.pdf", "*a*b*", "https://*.acme.com/*", "*?q=*", "HTTPS://ACME.COM/PRICING", "p*g"}
	numValues   = []float64{-1, 0, 5, 10, 250}
	genValues   = map[cond.Kind][]string{cond.Country: {"DE", "us", "FR", "JP", "ca"}, cond.Territory: {"EMEA", "amer", "DACH", "empty"}, cond.User: {"usr_1", "usr_2", "usr_3"}}
	fuzzSubject = map[string]cond.Kind{}
)

func init() {
	for _, s := range schema.Subjects {
		fuzzSubject[s.Name] = s.Kind
	}
	genValues[cond.Text] = textValues
	genValues[cond.URL] = textValues
}

func (g *gen) cond(depth int) map[string]any {
	if depth < 4 {
		switch g.n(6) {
		case 0, 1:
			key := "all"
			if g.n(2) == 1 {
				key = "any"
			}
			kids := make([]any, 1+g.n(3))
			for i := range kids {
				kids[i] = g.cond(depth + 1)
			}
			return map[string]any{key: kids}
		case 2:
			return map[string]any{"not": g.cond(depth + 1)}
		}
	}
	s := schema.Subjects[g.n(len(schema.Subjects))]
	ops := cond.Ops(s.Kind)
	op := ops[g.n(len(ops))]
	m := map[string]any{"subject": s.Name, "op": op.Name}
	pool := genValues[s.Kind]
	if s.Kind == cond.Picklist {
		pool = []string{}
		for _, o := range s.Options {
			pool = append(pool, o, strings.ToLower(o))
		}
	}
	switch op.Value {
	case cond.OneValue:
		switch s.Kind {
		case cond.Number:
			m["value"] = numValues[g.n(len(numValues))]
		case cond.Bool:
			m["value"] = g.n(2) == 1
		default:
			m["value"] = pool[g.n(len(pool))]
		}
	case cond.ListValue:
		if s.Kind == cond.Text && g.n(4) == 0 { // long enough to be looked up in a map
			m["value"] = append(companies(9), "acme")
			break
		}
		list := make([]string, 1+g.n(3))
		for i := range list {
			list[i] = pool[g.n(len(pool))]
		}
		m["value"] = list
	case cond.RangeValue:
		m["value"] = []float64{numValues[g.n(len(numValues))], numValues[g.n(len(numValues))]}
	}
	return m
}

var factValues = map[cond.Kind][]any{
	cond.Text: {"acme", "Acme Corp", "ACME", "globex", "x.y", "xay", "a?b", "c++", "me", "ada@ACME.com", "company 3", ""},
	cond.URL: {"https://acme.com/pricing", "HTTPS://ACME.COM/PRICING?q=1", "https://blog.acme.com/x.pdf", "/pricing", "ab",
		"acme", "https://acme.com/", "png", ""},
	cond.Number:   {-1.0, 0.0, 5.0, 7.5, 10.0, 250, math.NaN(), "5"},
	cond.Bool:     {true, false, "true"},
	cond.Picklist: {"Free", "PRO", "Enterprise", "Gold", "AMER", "emea", ""},
	cond.Country:  {"DE", "us", "fr", "JP", "CA", "XX", "Germany", "AT", ""},
	cond.User:     {"usr_1", "usr_2", "USR_1", ""},
}

func randomFacts(r *rand.Rand) cond.Map {
	m := cond.Map{}
	for _, s := range schema.Subjects {
		pool := factValues[s.Kind]
		if s.Kind == cond.Territory {
			continue // a territory is asked through geo.country
		}
		if i := r.IntN(len(pool) + 1); i < len(pool) {
			m[s.Name] = pool[i]
		}
	}
	return m
}

// ref evaluates a condition as read by encoding/json, independently of the package: by
// lower-casing, regular expressions and the schema's territories.
func ref(c map[string]any, f cond.Map) bool {
	switch {
	case c["all"] != nil:
		for _, k := range c["all"].([]any) {
			if !ref(k.(map[string]any), f) {
				return false
			}
		}
		return true
	case c["any"] != nil:
		for _, k := range c["any"].([]any) {
			if ref(k.(map[string]any), f) {
				return true
			}
		}
		return false
	case c["not"] != nil:
		return !ref(c["not"].(map[string]any), f)
	}
	subject, op := c["subject"].(string), c["op"].(string)
	kind := fuzzSubject[subject]
	var values []string
	switch v := c["value"].(type) {
	case string:
		values = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				values = append(values, s)
			}
		}
	}
	negated := op == "neq" || op == "not_in" || op == "not_contains" || op == "not_exists"
	positive := map[string]string{"neq": "eq", "not_in": "in", "not_contains": "contains", "not_exists": "exists"}[op]
	if positive == "" {
		positive = op
	}
	var known, held bool
	switch kind {
	case cond.Number:
		x, ok := f.Number(subject)
		known = ok
		var a, b float64
		switch v := c["value"].(type) {
		case float64:
			a = v
		case []any:
			a, b = v[0].(float64), v[1].(float64)
		}
		switch positive {
		case "eq":
			held = x == a
		case "gt":
			held = x > a
		case "gte":
			held = x >= a
		case "lt":
			held = x < a
		case "lte":
			held = x <= a
		case "between":
			held = a <= x && x <= b
		}
	case cond.Bool:
		x, ok := f.Bool(subject)
		known = ok
		if op == "is" {
			held = x == c["value"].(bool)
		}
	default:
		x, ok := f.Text(subject)
		if kind == cond.Territory {
			x, ok = f.Text("geo.country")
			var codes []string
			for _, v := range values {
				for name, cs := range schema.Territories {
					if strings.EqualFold(name, v) {
						codes = append(codes, cs...)
					}
				}
			}
			values = codes
		}
		known = ok && x != ""
		lx := strings.ToLower(x)
		if kind == cond.User {
			lx = x
		}
		for _, v := range values {
			lv := strings.ToLower(v)
			if kind == cond.User {
				lv = v
			}
			switch positive {
			case "eq", "in":
				held = held || lx == lv
			case "contains":
				held = held || strings.Contains(lx, lv)
			case "starts_with":
				held = held || strings.HasPrefix(lx, lv)
			case "ends_with":
				held = held || strings.HasSuffix(lx, lv)
			case "matches":
				parts := strings.Split(lv, "*")
				for i, p := range parts {
					parts[i] = regexp.QuoteMeta(p)
				}
				held = held || regexp.MustCompile(`(?s)\A`+strings.Join(parts, ".*")+`\z`).MatchString(lx)
			}
		}
	}
	if positive == "exists" {
		held = known
	} else if !known {
		held = false
	}
	return held != negated
}

// at returns the condition at a path such as ".all[1].not", or the comparison holding the path
// of a value (".any[0].value").
func at(c map[string]any, path string) map[string]any {
	for _, part := range strings.Split(strings.TrimPrefix(path, "."), ".") {
		key, index, list := strings.Cut(part, "[")
		switch key {
		case "all", "any":
			if list {
				i, _ := strconv.Atoi(strings.TrimSuffix(index, "]"))
				c = c[key].([]any)[i].(map[string]any)
			}
		case "not":
			c = c[key].(map[string]any)
		}
	}
	return c
}

// FuzzEval compiles random conditions over the test schema and evaluates them against random
// facts: Eval, Trace, the round trip through JSON and a reference evaluator must agree, and a
// condition refused as never matching must indeed match none of the facts.
func FuzzEval(f *testing.F) {
	for _, s := range []string{"", "\x00", "\x06\x0a\x01", "\x00\x01\x06\x00\x02\x00\x0a\x03\x02\x01", "\x01\x02\x03\x04\x05\x06\x07\x08\x09",
		"\x00\x02\x0b\x01\x00\x0c\x00\x01", "\x02\x05\x00\x03\x01\x05\x04\x02\x00\x06", "\x00\x03\x00\x05\x00\x00\x00\x09\x01\x01"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{data: data}
		raw, err := json.Marshal(g.cond(1))
		if err != nil {
			t.Fatal(err)
		}
		var tree map[string]any
		if err := json.Unmarshal(raw, &tree); err != nil {
			t.Fatal(err)
		}
		h := fnv.New64a()
		h.Write(data)
		r := rand.New(rand.NewPCG(h.Sum64(), 1))
		facts := make([]cond.Map, 48)
		for i := range facts {
			facts[i] = randomFacts(r)
		}
		e, err := cond.Compile(raw, prefix, schema)
		if err != nil {
			ee := errs.As(err)
			if ee == nil || ee.Kind != errs.Invalid {
				t.Fatalf("Compile(%s): %v", raw, err)
			}
			if strings.Contains(ee.Message, "never match") {
				part := at(tree, strings.TrimPrefix(ee.Field, prefix))
				for _, f := range facts {
					if ref(part, f) {
						t.Fatalf("%s refused (%v), but %v matches", raw, err, f)
					}
				}
			}
			return
		}
		again, err := cond.Compile(e.JSON(), prefix, schema)
		if err != nil {
			t.Fatalf("%s → %s: %v", raw, e.JSON(), err)
		}
		for _, f := range facts {
			got, want := e.Eval(f), ref(tree, f)
			if got != want {
				t.Fatalf("%s: Eval(%v) = %v, the reference says %v", raw, f, got, want)
			}
			if tr, steps := e.Trace(f); tr != got || len(steps) == 0 {
				t.Fatalf("%s: Trace(%v) = %v, %v; Eval %v", raw, f, tr, steps, got)
			}
			if again.Eval(f) != got {
				t.Fatalf("%s: after the round trip, Eval(%v) differs", raw, f)
			}
		}
	})
}
