package cond

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Eval reports whether the visitor described by f matches the condition. It evaluates groups
// left to right and stops as soon as the result is known (the first false child of all, the
// first true child of any). It does not allocate; it calls f once for each comparison it
// evaluates. A nil or empty Expr matches.
func (e *Expr) Eval(f Facts) bool {
	if e == nil || e.root == nil {
		return true
	}
	return e.root.eval(f)
}

func (n *node) eval(f Facts) bool {
	switch n.group {
	case gAll:
		for i := range n.kids {
			if !n.kids[i].eval(f) {
				return false
			}
		}
		return true
	case gAny:
		for i := range n.kids {
			if n.kids[i].eval(f) {
				return true
			}
		}
		return false
	case gNot:
		return !n.kids[0].eval(f)
	}
	switch n.dom {
	case dNum:
		v, ok := f.Number(n.fact)
		return n.testNum(v, ok && v == v)
	case dBool:
		v, ok := f.Bool(n.fact)
		return n.testBool(v, ok)
	}
	v, ok := f.Text(n.fact)
	return n.testText(v, ok && v != "")
}

// testText applies a comparison of text (dText, dExact, dCountry) to the value v, known or not.
func (n *node) testText(v string, known bool) bool {
	switch {
	case n.op == opExists:
		return known
	case n.op == opNotExists:
		return !known
	case !known:
		return n.op.negative()
	}
	var r bool
	switch n.op {
	case opEq, opNeq, opIn, opNotIn:
		r = n.member(v)
	case opContains, opNotContains:
		r = containsFold(v, n.strs[0])
	case opStartsWith:
		_, r = prefixFold(v, n.strs[0])
	case opEndsWith:
		_, r = suffixFold(v, n.strs[0])
	case opMatches:
		r = globFold(v, n.segs)
	}
	return r != n.op.negative()
}

// member reports whether v is one of the comparison's values.
func (n *node) member(v string) bool {
	switch n.dom {
	case dCountry:
		return n.set.has(v)
	case dExact:
		if n.fold != nil {
			_, ok := n.fold[v]
			return ok
		}
		for _, s := range n.strs {
			if s == v {
				return true
			}
		}
		return false
	}
	if n.fold != nil {
		var buf [256]byte
		if k, ok := foldInto(&buf, v); ok {
			_, hit := n.fold[string(buf[:k])]
			return hit
		}
	}
	for _, s := range n.strs {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func (n *node) testNum(v float64, known bool) bool {
	switch {
	case n.op == opExists:
		return known
	case n.op == opNotExists:
		return !known
	case !known:
		return n.op == opNeq
	}
	a := n.nums[0]
	switch n.op {
	case opEq:
		return v == a
	case opNeq:
		return v != a
	case opGt:
		return v > a
	case opGte:
		return v >= a
	case opLt:
		return v < a
	case opLte:
		return v <= a
	case opBetween:
		return a <= v && v <= n.nums[1]
	}
	return false
}

func (n *node) testBool(v, known bool) bool {
	switch n.op {
	case opExists:
		return known
	case opNotExists:
		return !known
	}
	return known && v == n.flag
}

// Step is one comparison evaluated by Trace: enough to show, in the explanation of a decision,
// "geo.country DE in territory EMEA: true".
type Step struct {
	Path    string `json:"path"`    // the comparison's JSON path inside the condition, "" for a condition that is one comparison
	Subject string `json:"subject"` // as written, e.g. "geo.territory"
	Fact    string `json:"fact"`    // the fact compared: Subject, or CountryFact for a Territory
	Op      string `json:"op"`      // e.g. "in"
	Want    string `json:"want"`    // the condition's value for people: "EMEA, APAC", "100 to 500"; "" for exists and not_exists
	Got     string `json:"got"`     // the visitor's value, e.g. "DE"; "" when unknown
	Known   bool   `json:"known"`   // whether the visitor's value is known
	Held    bool   `json:"held"`    // whether the comparison held (before any "not" above it)
}

// String returns the step for people, e.g. `geo.country DE in territory EMEA: true` or
// `session.page_url "https://acme.com/" matches "*/pricing*": false`; an unknown value reads
// "(unknown)".
func (s Step) String() string {
	var b strings.Builder
	b.WriteString(s.Fact)
	b.WriteByte(' ')
	if s.Known {
		b.WriteString(s.Got)
	} else {
		b.WriteString("(unknown)")
	}
	b.WriteByte(' ')
	b.WriteString(strings.ReplaceAll(s.Op, "_", " "))
	if s.Fact != s.Subject {
		b.WriteString(" territory")
	}
	if s.Want != "" {
		b.WriteByte(' ')
		b.WriteString(s.Want)
	}
	b.WriteString(": ")
	b.WriteString(strconv.FormatBool(s.Held))
	return b.String()
}

// Trace is Eval that also returns the comparisons it evaluated, in order, for the explanation of
// a decision. Like Eval, it stops evaluating a group once its result is known, so the last step
// of a group that failed is the comparison that made it fail. The result is Eval's.
func (e *Expr) Trace(f Facts) (bool, []Step) {
	if e == nil || e.root == nil {
		return true, nil
	}
	var steps []Step
	ok := e.root.trace(f, &steps)
	return ok, steps
}

// AppendTrace is Trace appending the steps to buf, so that a caller tracing many conditions
// (routing's rules) can share one buffer. It returns Eval's result and the extended buffer.
func (e *Expr) AppendTrace(f Facts, buf []Step) (bool, []Step) {
	if e == nil || e.root == nil {
		return true, buf
	}
	ok := e.root.trace(f, &buf)
	return ok, buf
}

func (n *node) trace(f Facts, steps *[]Step) bool {
	switch n.group {
	case gAll:
		for i := range n.kids {
			if !n.kids[i].trace(f, steps) {
				return false
			}
		}
		return true
	case gAny:
		for i := range n.kids {
			if n.kids[i].trace(f, steps) {
				return true
			}
		}
		return false
	case gNot:
		return !n.kids[0].trace(f, steps)
	}
	s := Step{Path: n.path, Subject: n.subject, Fact: n.fact, Op: n.opName, Want: n.wantStr}
	switch n.dom {
	case dNum:
		v, ok := f.Number(n.fact)
		s.Known = ok && v == v
		if s.Known {
			s.Got = formatNum(v)
		}
		s.Held = n.testNum(v, s.Known)
	case dBool:
		v, ok := f.Bool(n.fact)
		s.Known = ok
		if ok {
			s.Got = strconv.FormatBool(v)
		}
		s.Held = n.testBool(v, ok)
	default:
		v, ok := f.Text(n.fact)
		s.Known = ok && v != ""
		if s.Known {
			s.Got = v
			if n.kind == Text || n.kind == URL {
				s.Got = strconv.Quote(v)
			}
		}
		s.Held = n.testText(v, s.Known)
	}
	*steps = append(*steps, s)
	return s.Held
}

// wantMax bounds the length of Step.Want and of the values quoted in errors, in bytes: a list
// of a thousand companies explains nothing.
const wantMax = 200

// want is the comparison's value for people, cut after about wantMax bytes.
func (n *node) want() string {
	switch n.op.shape() {
	case NoValue:
		return ""
	case RangeValue:
		return formatNum(n.nums[0]) + " to " + formatNum(n.nums[1])
	}
	switch n.dom {
	case dNum:
		return formatNum(n.nums[0])
	case dBool:
		return strconv.FormatBool(n.flag)
	}
	var b strings.Builder
	for i, s := range n.strs {
		if i > 0 {
			b.WriteString(", ")
		}
		if b.Len()+len(s) > wantMax && i > 0 {
			fmt.Fprintf(&b, "and %d more", len(n.strs)-i)
			break
		}
		if len(s) > wantMax {
			cut := wantMax
			for cut > 0 && !utf8RuneStart(s[cut]) {
				cut--
			}
			s = s[:cut] + "…"
		}
		if n.kind == Text || n.kind == URL {
			s = strconv.Quote(s)
		}
		b.WriteString(s)
	}
	return b.String()
}

// formatNum writes a number as JSON would: plainly, or with an exponent when tiny or huge.
func formatNum(f float64) string {
	if a := math.Abs(f); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	// 1e-07 → 1e-7, as encoding/json writes it.
	if n := len(s); n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
		s = s[:n-2] + s[n-1:]
	}
	return s
}
