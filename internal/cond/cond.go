package cond

import (
	"sort"
	"strconv"
	"strings"
)

// Limits of one condition. Compile refuses a condition beyond any of them: MaxSize with
// errs.TooLarge, the others with errs.Invalid on the path of the part that goes over.
const (
	MaxSize   = 256 << 10 // bytes of raw JSON
	MaxDepth  = 12        // levels of nesting; a condition that is a single comparison has depth 1
	MaxNodes  = 500       // groups and comparisons in one condition
	MaxString = 1000      // bytes of one string value
	MaxList   = 1000      // values in one list
)

// CountryFact is the fact a Territory comparison asks for: the visitor's ISO 3166 country code.
const CountryFact = "geo.country"

// Kind is the type of a subject: it decides which operators a comparison may use, what its
// value must be and which method of Facts answers it.
type Kind int

// The kinds of subject. The zero Kind is not a kind: a Subject must name one of these.
const (
	Text      Kind = iota + 1 // free text, compared ignoring case (Facts.Text)
	URL                       // a URL: Text's operators and matches, a wildcard pattern (Facts.Text)
	Number                    // a number (Facts.Number)
	Bool                      // true or false (Facts.Bool)
	Picklist                  // one of the subject's Options, compared ignoring case (Facts.Text)
	Country                   // an ISO 3166 alpha-2 code such as DE (Facts.Text)
	Territory                 // membership of the visitor's country in admin-defined territories (Facts.Text of CountryFact)
	User                      // a user id, compared exactly (Facts.Text)
)

var kindNames = [...]string{Text: "text", URL: "url", Number: "number", Bool: "bool",
	Picklist: "picklist", Country: "country", Territory: "territory", User: "user"}

// String returns the kind's name as the console and API spell it: "text", "url", "number",
// "bool", "picklist", "country", "territory" or "user"; an unknown kind is "Kind(n)".
func (k Kind) String() string {
	if k >= Text && k <= User {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText encodes the kind as its name, so that it reads well in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k Kind) valid() bool { return k >= Text && k <= User }

// Subject is something a condition may compare: a visitor field, a session attribute, a fact
// about the visitor's company or account.
type Subject struct {
	Name    string   // as conditions write it, e.g. "session.page_url", "field.company"
	Label   string   // for people, e.g. "Page URL"
	Kind    Kind     // what it holds
	Options []string // a Picklist's allowed values, spelt as they are shown; ignored for other kinds
}

// Schema is what conditions may use. The caller builds it: routing from the workspace (its
// visitor fields, territories and users), audiences from theirs.
type Schema struct {
	// Subjects are the subjects conditions may compare; a name appearing twice counts once
	// (the first wins). A subject of kind Territory (usually "geo.territory") asks the fact
	// CountryFact.
	Subjects []Subject
	// Territories maps a territory's name to its ISO 3166 alpha-2 country codes. Conditions
	// name territories ignoring case; an exact match is preferred when two names differ only in
	// case.
	Territories map[string][]string
	// ValidUser reports whether id names a user that conditions on User subjects may name; nil
	// accepts any non-empty id.
	ValidUser func(id string) bool
}

// Facts answers what a decision knows about the visitor. Each method returns the value of the
// named subject (or fact) and whether it is known; an empty text counts as unknown, and so does a
// NaN number. Text answers the Text, URL, Picklist, Country and User subjects and CountryFact;
// Number the Number subjects; Bool the Bool subjects. Implementations should not allocate:
// Eval calls them for every comparison it evaluates.
type Facts interface {
	Text(subject string) (string, bool)
	Number(subject string) (float64, bool)
	Bool(subject string) (bool, bool)
}

// Map is Facts held in a map, for simulations and tests: a string answers Text, a float64 or an
// int answers Number, a bool answers Bool; any other value, or a value of another type than
// the one asked for, is unknown.
type Map map[string]any

// Text returns m[subject] when it is a non-empty string.
func (m Map) Text(subject string) (string, bool) {
	s, ok := m[subject].(string)
	return s, ok && s != ""
}

// Number returns m[subject] when it is a float64 (not NaN) or an int.
func (m Map) Number(subject string) (float64, bool) {
	switch v := m[subject].(type) {
	case float64:
		return v, v == v
	case int:
		return float64(v), true
	}
	return 0, false
}

// Bool returns m[subject] when it is a bool.
func (m Map) Bool(subject string) (bool, bool) {
	b, ok := m[subject].(bool)
	return b, ok
}

// opcode is an operator.
type opcode uint8

const (
	opEq opcode = iota + 1
	opNeq
	opIn
	opNotIn
	opContains
	opNotContains
	opStartsWith
	opEndsWith
	opMatches
	opGt
	opGte
	opLt
	opLte
	opBetween
	opIs
	opExists
	opNotExists
)

var opNames = [...]string{opEq: "eq", opNeq: "neq", opIn: "in", opNotIn: "not_in", opContains: "contains",
	opNotContains: "not_contains", opStartsWith: "starts_with", opEndsWith: "ends_with", opMatches: "matches",
	opGt: "gt", opGte: "gte", opLt: "lt", opLte: "lte", opBetween: "between", opIs: "is",
	opExists: "exists", opNotExists: "not_exists"}

func (o opcode) String() string { return opNames[o] }

// negative reports whether the operator is the negation of another (neq of eq, not_in of in,
// not_contains of contains, not_exists of exists): exactly these hold for an unknown value.
func (o opcode) negative() bool {
	return o == opNeq || o == opNotIn || o == opNotContains || o == opNotExists
}

// Shape is what an operator's value looks like.
type Shape int

// The shapes of operators' values.
const (
	NoValue    Shape = iota // exists, not_exists: no "value" key (or null)
	OneValue                // one string, number or boolean, by the subject's kind
	ListValue               // a non-empty list of strings
	RangeValue              // [low, high], two numbers with low <= high
)

var shapeNames = [...]string{NoValue: "none", OneValue: "one", ListValue: "list", RangeValue: "range"}

// String returns "none", "one", "list" or "range".
func (s Shape) String() string {
	if s >= NoValue && s <= RangeValue {
		return shapeNames[s]
	}
	return "Shape(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes the shape as its name.
func (s Shape) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (o opcode) shape() Shape {
	switch o {
	case opExists, opNotExists:
		return NoValue
	case opIn, opNotIn:
		return ListValue
	case opBetween:
		return RangeValue
	}
	return OneValue
}

// Op is an operator as the console's editor offers it.
type Op struct {
	Name  string `json:"name"`  // as conditions write it, e.g. "not_in"
	Label string `json:"label"` // for people, e.g. "is none of"
	Value Shape  `json:"value"` // what its value looks like
}

type opSpec struct {
	op    opcode
	label string
}

var (
	textOps = []opSpec{{opEq, "is"}, {opNeq, "is not"}, {opIn, "is any of"}, {opNotIn, "is none of"},
		{opContains, "contains"}, {opNotContains, "does not contain"}, {opStartsWith, "starts with"},
		{opEndsWith, "ends with"}, {opExists, "is known"}, {opNotExists, "is unknown"}}
	urlOps = append(append(textOps[:8:8], opSpec{opMatches, "matches the pattern"}), textOps[8:]...)
	numOps = []opSpec{{opEq, "equals"}, {opNeq, "does not equal"}, {opGt, "is greater than"},
		{opGte, "is at least"}, {opLt, "is less than"}, {opLte, "is at most"}, {opBetween, "is between"},
		{opExists, "is known"}, {opNotExists, "is unknown"}}
	boolOps   = []opSpec{{opIs, "is"}, {opExists, "is known"}, {opNotExists, "is unknown"}}
	choiceOps = []opSpec{{opEq, "is"}, {opNeq, "is not"}, {opIn, "is any of"}, {opNotIn, "is none of"},
		{opExists, "is known"}, {opNotExists, "is unknown"}}
	territoryOps = []opSpec{{opIn, "is in territory"}, {opNotIn, "is not in territory"}}
)

func specs(k Kind) []opSpec {
	switch k {
	case Text:
		return textOps
	case URL:
		return urlOps
	case Number:
		return numOps
	case Bool:
		return boolOps
	case Picklist, Country, User:
		return choiceOps
	case Territory:
		return territoryOps
	}
	return nil
}

// Ops returns the operators a subject of kind k allows, in the order an editor should offer
// them, with their labels and value shapes; nil for an unknown kind. The slice is the caller's.
func Ops(k Kind) []Op {
	sp := specs(k)
	if sp == nil {
		return nil
	}
	out := make([]Op, len(sp))
	for i, s := range sp {
		out[i] = Op{Name: s.op.String(), Label: s.label, Value: s.op.shape()}
	}
	return out
}

func opFor(k Kind, name string) (opcode, bool) {
	for _, s := range specs(k) {
		if opNames[s.op] == name {
			return s.op, true
		}
	}
	return 0, false
}

func opList(k Kind) string {
	sp := specs(k)
	names := make([]string, len(sp))
	for i, s := range sp {
		names[i] = s.op.String()
	}
	return strings.Join(names, ", ")
}

// Expr is a compiled condition. The zero Expr and a nil *Expr always match. An Expr is
// immutable and safe for concurrent use.
type Expr struct {
	root *node // nil: always matches
}

// Always reports whether the condition is empty and so matches every visitor.
func (e *Expr) Always() bool { return e == nil || e.root == nil }

// FactNames returns, sorted and without repeats, the names of the facts Eval may ask Facts for:
// the subjects the condition compares, with CountryFact in place of a Territory subject. A
// caller can skip computing facts no rule asks for.
func (e *Expr) FactNames() []string {
	if e.Always() {
		return nil
	}
	seen := map[string]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if n.group == gLeaf {
			seen[n.fact] = true
		}
		for i := range n.kids {
			walk(&n.kids[i])
		}
	}
	walk(e.root)
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
