package cond

import (
	"math"
	"strings"
)

// Conditions that can never match. Compile refuses them, pointing at the group: an "all" group
// whose comparisons cannot all hold at once, and a "not" whose inner condition always holds.
//
// For a group, the checker gathers the comparisons that must all hold for it to hold: those of
// an "all" group and of the "all" groups inside it, and through "not" the negations of what it
// holds (not of a comparison, not of an "any" group of comparisons, by De Morgan's laws). The
// comparisons are grouped by the fact they ask, and each group is judged on its own:
//
//   - a value is needed when some comparison fails for an unknown value; then not_exists
//     contradicts it;
//   - numbers: the bounds (eq, gt, gte, lt, lte, between) must leave a non-empty range, and not
//     only a value excluded by neq;
//   - booleans: is true and is false;
//   - countries (Country and Territory comparisons on the same fact): the countries allowed by
//     eq and in, less those excluded by neq and not_in, must not be empty;
//   - text, URLs, picklists, user ids: when eq or in give a finite list of candidates, one of
//     them must pass every comparison; otherwise two
//     starts_with (or two ends_with) values that cannot both begin (end) one value, and a
//     not_contains value found inside a value the text must contain (contains, starts_with,
//     ends_with, the literal parts of matches) are contradictions, and so are a negated
//     starts_with (ends_with) and a required one that begins (ends) with it.
//
// It is sound, not complete: what it refuses can truly never match, but some impossible
// conditions pass (a contradiction between different facts, or one hidden inside an "any"
// group). Comparing texts costs time, so one Compile spends at most checkBudget units (about a
// byte compared each) on them; past that, it stops looking for contradictions between texts.

// checkBudget bounds the work of the text comparisons of one Compile: some tens of milliseconds
// at worst, far more than any condition people write needs.
const checkBudget = 20_000_000

// checker judges groups of comparisons within a budget of work.
type checker struct {
	spent int
}

// spend charges n units and reports whether the budget still allows the work.
func (k *checker) spend(n int) bool {
	k.spent += n
	return k.spent <= checkBudget
}

// entry is a comparison that must hold (neg false) or fail (neg true).
type entry struct {
	n   *node
	neg bool
}

// collect appends the comparisons that must hold (or, neg, fail) for n to hold (fail).
func collect(n *node, neg bool, out []entry) []entry {
	switch n.group {
	case gLeaf:
		return append(out, entry{n, neg})
	case gAll:
		if !neg {
			for i := range n.kids {
				out = collect(&n.kids[i], false, out)
			}
		}
	case gAny:
		if neg {
			for i := range n.kids {
				out = collect(&n.kids[i], true, out)
			}
		}
	case gNot:
		return collect(&n.kids[0], !neg, out)
	}
	return out
}

func (c *compiler) checkAll(g *node) error {
	bad := c.chk.contradiction(collect(g, false, nil))
	if bad == nil {
		return nil
	}
	return c.invalid(g.path, "can never match: %s", c.chk.explain(g, bad, false))
}

func (c *compiler) checkNot(g *node) error {
	bad := c.chk.contradiction(collect(&g.kids[0], true, nil))
	if bad == nil {
		return nil
	}
	return c.invalid(g.path, "can never match: what \"not\" negates always holds, since %s", c.chk.explain(g, bad, true))
}

// explain words a contradiction: the first pair of its comparisons that contradict each other,
// or all of them.
func (k *checker) explain(g *node, bad []entry, fail bool) string {
	verb := "hold"
	if fail {
		verb = "fail"
	}
	if len(bad) <= 24 {
		for i := range bad {
			for j := i + 1; j < len(bad); j++ {
				if !k.satisfiable([]entry{bad[i], bad[j]}) {
					return describe(g, bad[i], fail) + " and " + describe(g, bad[j], fail) + " cannot both " + verb
				}
			}
		}
	}
	parts := make([]string, 0, len(bad))
	for i, e := range bad {
		if i == 12 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, describe(g, e, fail))
	}
	return strings.Join(parts, ", ") + " cannot all " + verb
}

// describe words an entry as what must hold (or, fail, what must fail), with its path relative
// to the group.
func describe(g *node, e entry, fail bool) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(e.n.path, g.path), ".")
	s := e.n.subject + " " + e.n.op.String()
	if w := e.n.want(); w != "" {
		s += " " + w
	}
	if e.neg != fail {
		s = "not " + s
	}
	if rel == "" {
		return s
	}
	return s + " (" + rel + ")"
}

// contradiction returns the entries about one fact that cannot all be met, or nil.
func (k *checker) contradiction(es []entry) []entry {
	if len(es) < 2 {
		return nil
	}
	type key struct {
		fact string
		dom  domain
	}
	var order []key
	byKey := map[key][]entry{}
	for _, e := range es {
		id := key{e.n.fact, e.n.dom}
		if _, ok := byKey[id]; !ok {
			order = append(order, id)
		}
		byKey[id] = append(byKey[id], e)
	}
	for _, id := range order {
		if g := byKey[id]; len(g) >= 2 && !k.satisfiable(g) {
			return g
		}
	}
	return nil
}

// satisfiable reports whether some value of one fact (or its absence) meets every entry.
func (k *checker) satisfiable(es []entry) bool {
	needValue := false
	for _, e := range es {
		if e.n.op.negative() == e.neg { // holds for an unknown value exactly when negative != neg
			needValue = true
		}
	}
	if !needValue {
		return true
	}
	for _, e := range es {
		if e.n.op == opNotExists && !e.neg || e.n.op == opExists && e.neg {
			return false
		}
	}
	switch es[0].n.dom {
	case dNum:
		return numbersMeet(es)
	case dBool:
		return boolsMeet(es)
	case dCountry:
		return countriesMeet(es)
	}
	return k.textsMeet(es)
}

func numbersMeet(es []entry) bool {
	lo, hi := math.Inf(-1), math.Inf(1)
	loOpen, hiOpen := false, false
	raise := func(x float64, open bool) {
		if x > lo || x == lo && open {
			lo, loOpen = x, open
		}
	}
	lower := func(x float64, open bool) {
		if x < hi || x == hi && open {
			hi, hiOpen = x, open
		}
	}
	var excluded []float64
	for _, e := range es {
		a, op := e.n.nums[0], e.n.op
		if e.neg {
			switch op {
			case opEq:
				op = opNeq
			case opNeq:
				op = opEq
			case opGt:
				op = opLte
			case opGte:
				op = opLt
			case opLt:
				op = opGte
			case opLte:
				op = opGt
			default: // not between is no range; exists and not_exists are judged already
				continue
			}
		}
		switch op {
		case opEq:
			raise(a, false)
			lower(a, false)
		case opNeq:
			excluded = append(excluded, a)
		case opGt:
			raise(a, true)
		case opGte:
			raise(a, false)
		case opLt:
			lower(a, true)
		case opLte:
			lower(a, false)
		case opBetween:
			raise(a, false)
			lower(e.n.nums[1], false)
		}
	}
	if lo > hi || lo == hi && (loOpen || hiOpen) {
		return false
	}
	if lo == hi {
		for _, x := range excluded {
			if x == lo {
				return false
			}
		}
	}
	return true
}

func boolsMeet(es []entry) bool {
	want := 0 // 1 true, 2 false
	for _, e := range es {
		if e.n.op != opIs {
			continue
		}
		w := 2
		if e.n.flag != e.neg {
			w = 1
		}
		if want != 0 && want != w {
			return false
		}
		want = w
	}
	return true
}

func countriesMeet(es []entry) bool {
	allowed := fullCset()
	for _, e := range es {
		n := e.n
		in := n.op == opEq || n.op == opIn
		if !in && n.op != opNeq && n.op != opNotIn {
			continue
		}
		for i := range allowed {
			if in != e.neg {
				allowed[i] &= n.set[i]
			} else {
				allowed[i] &^= n.set[i]
			}
		}
	}
	return !allowed.empty()
}

func (k *checker) textsMeet(es []entry) bool {
	var cands []string
	for _, e := range es {
		n := e.n
		if (n.op == opEq || n.op == opIn) != e.neg && (n.op == opEq || n.op == opIn || n.op == opNeq || n.op == opNotIn) {
			if cands == nil || len(n.strs) < len(cands) {
				cands = n.strs
			}
		}
	}
	if cands != nil {
	next:
		for _, v := range cands {
			for _, e := range es {
				if !k.spend(e.n.cost(len(v))) {
					return true
				}
				if e.n.testText(v, true) == e.neg {
					continue next
				}
			}
			return true
		}
		return false
	}
	var pre, suf, pieces, noSub, noPre, noSuf []string
	for _, e := range es {
		n := e.n
		switch {
		case n.op == opStartsWith && !e.neg:
			pre = append(pre, n.strs[0])
			pieces = append(pieces, n.strs[0])
		case n.op == opStartsWith:
			noPre = append(noPre, n.strs[0])
		case n.op == opEndsWith && !e.neg:
			suf = append(suf, n.strs[0])
			pieces = append(pieces, n.strs[0])
		case n.op == opEndsWith:
			noSuf = append(noSuf, n.strs[0])
		case n.op == opContains && !e.neg, n.op == opNotContains && e.neg:
			pieces = append(pieces, n.strs[0])
		case n.op == opNotContains, n.op == opContains:
			noSub = append(noSub, n.strs[0])
		case n.op == opMatches && !e.neg:
			if first := n.segs[0]; first != "" {
				pre = append(pre, first)
			}
			if last := n.segs[len(n.segs)-1]; last != "" {
				suf = append(suf, last)
			}
			for _, s := range n.segs {
				if s != "" {
					pieces = append(pieces, s)
				}
			}
		}
	}
	for i, a := range pre {
		for _, b := range pre[i+1:] {
			if !k.spend(len(a) + len(b)) {
				return true
			}
			if _, ab := prefixFold(a, b); !ab {
				if _, ba := prefixFold(b, a); !ba {
					return false
				}
			}
		}
	}
	for i, a := range suf {
		for _, b := range suf[i+1:] {
			if !k.spend(len(a) + len(b)) {
				return true
			}
			if _, ab := suffixFold(a, b); !ab {
				if _, ba := suffixFold(b, a); !ba {
					return false
				}
			}
		}
	}
	for _, f := range noSub {
		for _, p := range pieces {
			if !k.spend((len(p) + 1) * (len(f) + 1)) {
				return true
			}
			if containsFold(p, f) {
				return false
			}
		}
	}
	for _, f := range noPre {
		for _, p := range pre {
			if !k.spend(len(p) + len(f)) {
				return true
			}
			if _, ok := prefixFold(p, f); ok {
				return false
			}
		}
	}
	for _, f := range noSuf {
		for _, p := range suf {
			if !k.spend(len(p) + len(f)) {
				return true
			}
			if _, ok := suffixFold(p, f); ok {
				return false
			}
		}
	}
	return true
}

// cost estimates, in units of checkBudget, testing a text of n bytes against the comparison.
func (n *node) cost(size int) int {
	switch n.op {
	case opContains, opNotContains, opMatches:
		return (size + 1) * (len(n.strs[0]) + 1)
	case opEq, opNeq, opIn, opNotIn:
		if n.fold != nil || n.dom == dCountry {
			return 2*size + 1
		}
		return len(n.strs) * (size + 1)
	}
	return size + 1
}
