package cond

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/visitor/geo"
)

// Kinds of node.
const (
	gLeaf uint8 = iota // a comparison
	gAll
	gAny
	gNot
)

// domain is how a comparison's values are compared.
type domain uint8

const (
	dText    domain = iota // strings ignoring case: Text, URL, Picklist
	dExact                 // strings exactly: User
	dCountry               // country codes through a set: Country, Territory
	dNum                   // numbers
	dBool                  // booleans
)

func domainOf(k Kind) domain {
	switch k {
	case User:
		return dExact
	case Country, Territory:
		return dCountry
	case Number:
		return dNum
	case Bool:
		return dBool
	}
	return dText
}

// node is a compiled group or comparison.
type node struct {
	group uint8
	kids  []node // gAll, gAny: the children; gNot: the one negated
	path  string // relative to the condition's root ("" for the root), e.g. "all[1].not"

	// A comparison (gLeaf).
	subject string   // as written
	fact    string   // the fact asked: subject, or CountryFact for a Territory
	kind    Kind     // the subject's kind
	dom     domain   // how values compare
	op      opcode   //
	strs    []string // normalised values: text, ids, codes, options or territory names, or the pattern
	fold    map[string]struct{}
	segs    []string   // matches: the pattern cut at each '*'
	nums    [2]float64 // Number: the value, or between's bounds
	flag    bool       // is: the value
	set     *cset      // dCountry: the countries of eq, neq, in, not_in
	wantStr string     // Step.Want, worked out once (prepare)
	opName  string     // Step.Op
}

// prepare works out what Trace reports of each comparison, once, so that tracing a decision
// formats only the visitor's values.
func (n *node) prepare() {
	if n.group != gLeaf {
		for i := range n.kids {
			n.kids[i].prepare()
		}
		return
	}
	n.wantStr, n.opName = n.want(), n.op.String()
}

// foldListMin is the length from which a list of strings is looked up in a map rather than
// scanned.
const foldListMin = 8

// Compile validates a condition written in JSON (see the package documentation) against the
// schema and returns it compiled. Empty input (or only white space), null and {} give an Expr
// that always matches.
//
// path names the condition in errors: an error's Field is path followed by the JSON path of the
// part at fault, e.g. "rules[3].conditions.all[1].value" for path "rules[3].conditions"; an error
// about the condition as a whole has Field path (empty when path is, so callers should name the
// condition). Errors are *errs.Error of kind
//
//   - errs.TooLarge: raw is over MaxSize bytes;
//   - errs.Malformed: raw is not one readable JSON value (a syntax error, text that is not UTF-8,
//     data after the value), with the path read so far;
//   - errs.Invalid: anything else: a part that is not an object, an unknown or repeated key, an
//     empty group, an unknown subject, an operator the subject's kind does not allow, a value of
//     the wrong type, a picklist value not among the options, an unknown country code,
//     territory or user, a bad wildcard pattern, a limit exceeded (MaxDepth, MaxNodes,
//     MaxString, MaxList), and a condition that can never match.
//
// A schema that declares a subject with an unknown Kind makes Compile fail with an Internal
// error when a condition uses that subject.
func Compile(raw []byte, path string, s Schema) (*Expr, error) {
	if len(raw) > MaxSize {
		return nil, errs.Field(errs.TooLarge, path, "is larger than %d KiB", MaxSize>>10)
	}
	if len(bytes.Trim(raw, " \t\r\n")) == 0 {
		return &Expr{}, nil
	}
	v, err := parseJSON(raw, path)
	if err != nil {
		return nil, err
	}
	switch {
	case v.kind == jNull, v.kind == jObj && len(v.keys) == 0:
		return &Expr{}, nil
	case v.kind != jObj:
		return nil, errs.Field(errs.Invalid, path, "must be a JSON object: a group (all, any or not) or a comparison (subject, op, value)")
	}
	c := compiler{prefix: path, schema: s, subjects: make(map[string]*Subject, len(s.Subjects))}
	for i := range s.Subjects {
		if _, dup := c.subjects[s.Subjects[i].Name]; !dup {
			c.subjects[s.Subjects[i].Name] = &s.Subjects[i]
		}
	}
	root, err := c.node(v, "", 1)
	if err != nil {
		return nil, err
	}
	root.prepare()
	return &Expr{root: &root}, nil
}

type compiler struct {
	prefix   string
	schema   Schema
	subjects map[string]*Subject
	nodes    int
	chk      checker
}

func (c *compiler) invalid(rel, format string, args ...any) error {
	return errs.Field(errs.Invalid, fieldPath(c.prefix, rel), format, args...)
}

func (c *compiler) node(v *jval, rel string, depth int) (node, error) {
	c.nodes++
	if c.nodes > MaxNodes {
		return node{}, c.invalid(rel, "is past the limit of %d groups and comparisons in one condition", MaxNodes)
	}
	if depth > MaxDepth {
		return node{}, c.invalid(rel, "is nested more than %d levels deep", MaxDepth)
	}
	if v.kind != jObj {
		return node{}, c.invalid(rel, "must be an object: a group (all, any or not) or a comparison (subject, op, value)")
	}
	main := ""
	for _, k := range v.keys {
		switch k {
		case "all", "any", "not", "subject":
			if main != "" {
				return node{}, c.invalid(keyRel(rel, k), "cannot stand beside %q: a condition is one group (all, any or not) or one comparison (subject, op, value)", main)
			}
			main = k
		case "op", "value":
		default:
			return node{}, c.invalid(keyRel(rel, k), "is not a key of a condition (all, any, not, subject, op, value)")
		}
	}
	switch main {
	case "":
		_, hasOp := v.get("op")
		_, hasValue := v.get("value")
		if hasOp || hasValue {
			return node{}, c.invalid(keyRel(rel, "subject"), "is required")
		}
		return node{}, c.invalid(rel, "is empty: write a group (all, any or not) or a comparison (subject, op, value)")
	case "subject":
		return c.leaf(v, rel)
	}
	for _, k := range v.keys {
		if k == "op" || k == "value" {
			return node{}, c.invalid(keyRel(rel, k), "belongs to a comparison, not to a group")
		}
	}
	n := node{path: rel}
	body, _ := v.get(main)
	if main == "not" {
		kid, err := c.node(body, keyRel(rel, "not"), depth+1)
		if err != nil {
			return node{}, err
		}
		n.group, n.kids = gNot, []node{kid}
		return n, c.checkNot(&n)
	}
	n.group = gAll
	if main == "any" {
		n.group = gAny
	}
	listRel := keyRel(rel, main)
	if body.kind != jArr {
		return node{}, c.invalid(listRel, "must be a list of conditions")
	}
	if len(body.arr) == 0 {
		return node{}, c.invalid(listRel, "is an empty group; add a condition or remove the group")
	}
	n.kids = make([]node, len(body.arr))
	for i, kv := range body.arr {
		kid, err := c.node(kv, indexRel(listRel, i), depth+1)
		if err != nil {
			return node{}, err
		}
		n.kids[i] = kid
	}
	if n.group == gAll {
		return n, c.checkAll(&n)
	}
	return n, nil
}

// leaf compiles a comparison: v has the key "subject" and no group key.
func (c *compiler) leaf(v *jval, rel string) (node, error) {
	sv, _ := v.get("subject")
	subjRel := keyRel(rel, "subject")
	if sv.kind != jStr {
		return node{}, c.invalid(subjRel, "must be a string naming a subject")
	}
	sub, ok := c.subjects[sv.str]
	if !ok {
		return node{}, c.invalid(subjRel, "%s is not a subject conditions can use", quoteClip(sv.str, 60))
	}
	if !sub.Kind.valid() {
		return node{}, fmt.Errorf("cond: the schema's subject %q has no valid kind (%d)", sub.Name, int(sub.Kind))
	}
	n := node{path: rel, subject: sub.Name, fact: sub.Name, kind: sub.Kind, dom: domainOf(sub.Kind)}
	if sub.Kind == Territory {
		n.fact = CountryFact
	}
	opRel := keyRel(rel, "op")
	ov, ok := v.get("op")
	switch {
	case !ok:
		return node{}, c.invalid(opRel, "is required")
	case ov.kind != jStr:
		return node{}, c.invalid(opRel, "must be a string naming an operator (%s)", opList(sub.Kind))
	}
	if n.op, ok = opFor(sub.Kind, ov.str); !ok {
		return node{}, c.invalid(opRel, "%s is not an operator for %s, a %s subject; use one of %s", quoteClip(ov.str, 30), sub.Name, sub.Kind, opList(sub.Kind))
	}
	valRel := keyRel(rel, "value")
	val, hasVal := v.get("value")
	if hasVal && val.kind == jNull {
		hasVal = false
	}
	switch n.op.shape() {
	case NoValue:
		if hasVal {
			return node{}, c.invalid(valRel, "must be left out: %s takes no value", n.op)
		}
		return n, nil
	default:
		if !hasVal {
			return node{}, c.invalid(valRel, "is required for %s", n.op)
		}
	}
	var err error
	switch n.op.shape() {
	case OneValue:
		err = c.oneValue(&n, sub, val, valRel)
	case ListValue:
		err = c.listValue(&n, sub, val, valRel)
	case RangeValue:
		err = c.rangeValue(&n, val, valRel)
	}
	if err != nil {
		return node{}, err
	}
	return n, nil
}

func (c *compiler) oneValue(n *node, sub *Subject, val *jval, rel string) error {
	switch n.dom {
	case dNum:
		f, err := c.number(val, rel, "must be a number")
		n.nums[0] = f
		return err
	case dBool:
		if val.kind != jBool {
			return c.invalid(rel, "must be true or false")
		}
		n.flag = val.b
		return nil
	}
	s, err := c.item(n, sub, val, rel, "must be a string")
	if err != nil {
		return err
	}
	n.strs = []string{s}
	if n.op == opMatches {
		if strings.Contains(s, "**") {
			return c.invalid(rel, "has ** in it: one * already matches any characters, / included")
		}
		if strings.Trim(s, "*") == "" {
			return c.invalid(rel, "matches any value; use exists instead")
		}
		n.segs = strings.Split(s, "*")
	}
	if n.dom == dCountry {
		n.set = new(cset)
		n.set.add(s)
	}
	return nil
}

func (c *compiler) listValue(n *node, sub *Subject, val *jval, rel string) error {
	what := "must be a list of strings"
	switch sub.Kind {
	case Territory:
		what = "must be a list of territory names"
	case Country:
		what = "must be a list of country codes"
	case User:
		what = "must be a list of user ids"
	}
	if val.kind != jArr {
		return c.invalid(rel, "%s", what)
	}
	if len(val.arr) == 0 {
		if n.op == opIn {
			return c.invalid(rel, "is an empty list, so this can never match")
		}
		return c.invalid(rel, "is an empty list, which excludes nothing; remove the comparison or name a value")
	}
	n.strs = make([]string, len(val.arr))
	seen := make(map[string]bool, len(val.arr))
	for i, iv := range val.arr {
		irel := indexRel(rel, i)
		s, err := c.item(n, sub, iv, irel, "must be a string")
		if err != nil {
			return err
		}
		key := s
		if n.dom == dText {
			key = string(appendFold(nil, s))
		}
		if seen[key] {
			return c.invalid(irel, "repeats %s", quoteClip(s, 60))
		}
		seen[key] = true
		n.strs[i] = s
	}
	switch {
	case n.dom == dCountry:
		n.set = new(cset)
		for _, s := range n.strs {
			if sub.Kind == Territory {
				for _, code := range c.territoryCountries(s) {
					n.set.add(code)
				}
			} else {
				n.set.add(s)
			}
		}
		if sub.Kind == Territory && n.set.empty() {
			return c.invalid(rel, "names only territories without countries, so this can never hold")
		}
	case len(n.strs) >= foldListMin:
		n.fold = make(map[string]struct{}, len(n.strs))
		for _, s := range n.strs {
			if n.dom == dText {
				s = string(appendFold(nil, s))
			}
			n.fold[s] = struct{}{}
		}
	}
	return nil
}

func (c *compiler) rangeValue(n *node, val *jval, rel string) error {
	if val.kind != jArr || len(val.arr) != 2 {
		return c.invalid(rel, "must be a list of two numbers, [low, high]")
	}
	for i, iv := range val.arr {
		f, err := c.number(iv, indexRel(rel, i), "must be a number")
		if err != nil {
			return err
		}
		n.nums[i] = f
	}
	if n.nums[0] > n.nums[1] {
		return c.invalid(rel, "is an empty range: %s is greater than %s, so this can never match", formatNum(n.nums[0]), formatNum(n.nums[1]))
	}
	return nil
}

func (c *compiler) number(v *jval, rel, what string) (float64, error) {
	if v.kind != jNum {
		return 0, c.invalid(rel, "%s", what)
	}
	f, err := strconv.ParseFloat(v.str, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, c.invalid(rel, "is out of range")
	}
	return f, nil
}

// item checks one string value of a comparison and returns it normalised.
func (c *compiler) item(n *node, sub *Subject, v *jval, rel, what string) (string, error) {
	if v.kind != jStr {
		return "", c.invalid(rel, "%s", what)
	}
	s := v.str
	switch {
	case s == "":
		return "", c.invalid(rel, "is empty")
	case len(s) > MaxString:
		return "", c.invalid(rel, "is longer than %d bytes", MaxString)
	}
	for _, r := range s {
		if r != '\u200d' && unicode.In(r, unicode.Cc, unicode.Cf) {
			return "", c.invalid(rel, "must be plain text on one line, without control characters")
		}
	}
	exact := n.op == opEq || n.op == opNeq || n.op == opIn || n.op == opNotIn
	switch sub.Kind {
	case Text, URL, User:
		if exact && strings.TrimSpace(s) != s {
			return "", c.invalid(rel, "begins or ends with white space, which a visitor's value never does")
		}
		if sub.Kind == User {
			if valid := c.schema.ValidUser; valid != nil && !valid(s) {
				return "", c.invalid(rel, "%s is not a user of this workspace", quoteClip(s, 60))
			}
		}
		return s, nil
	case Picklist:
		for _, o := range sub.Options {
			if strings.EqualFold(o, s) {
				return o, nil
			}
		}
		return "", c.invalid(rel, "%s is not one of the options of %s (%s)", quoteClip(s, 60), sub.Name, clipList(sub.Options, 12))
	case Country:
		up := strings.ToUpper(s)
		if len(up) != 2 || geo.CountryName(up) == "" {
			return "", c.invalid(rel, "%s is not an ISO 3166 country code (two letters, such as DE or US)", quoteClip(s, 60))
		}
		return up, nil
	case Territory:
		name, ok := c.territory(s)
		if !ok {
			names := make([]string, 0, len(c.schema.Territories))
			for t := range c.schema.Territories {
				names = append(names, t)
			}
			sort.Strings(names)
			if len(names) == 0 {
				return "", c.invalid(rel, "%s is not a territory: none is defined", quoteClip(s, 60))
			}
			return "", c.invalid(rel, "%s is not a territory (%s)", quoteClip(s, 60), clipList(names, 12))
		}
		return name, nil
	}
	return s, nil
}

// territory returns the defined spelling of a territory's name: the exact name when defined,
// otherwise the first name (in sorted order) equal to it ignoring case.
func (c *compiler) territory(s string) (string, bool) {
	if _, ok := c.schema.Territories[s]; ok {
		return s, true
	}
	best, found := "", false
	for name := range c.schema.Territories {
		if strings.EqualFold(name, s) && (!found || name < best) {
			best, found = name, true
		}
	}
	return best, found
}

func (c *compiler) territoryCountries(name string) []string { return c.schema.Territories[name] }

// fieldPath joins the caller's path and a path relative to the condition.
func fieldPath(prefix, rel string) string {
	switch {
	case rel == "":
		return prefix
	case prefix == "":
		return rel
	case rel[0] == '[':
		return prefix + rel
	}
	return prefix + "." + rel
}

// keyRel is the path of key inside the object at rel: rel.key for a plain key, rel["k ey"]
// (the key quoted as JSON, cut to 40 bytes) for others.
func keyRel(rel, key string) string {
	plain := key != "" && len(key) <= 40
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	switch {
	case !plain:
		return rel + "[" + quoteClip(key, 40) + "]"
	case rel == "":
		return key
	}
	return rel + "." + key
}

func indexRel(rel string, i int) string { return rel + "[" + strconv.Itoa(i) + "]" }

// KeyPath returns the JSON path of key inside the object at path, as this package writes the
// Field of its errors: path.key for a plain key, path["k ey"] (quoted, cut to 40 bytes) for
// others. Other parsers of JSON that admins write (routing's configuration) use it too, so that
// every path reads alike.
func KeyPath(path, key string) string { return keyRel(path, key) }

// QuoteClip quotes s as a JSON string, cut to at most n bytes on a character boundary (with …),
// as this package quotes values in its messages.
func QuoteClip(s string, n int) string { return quoteClip(s, n) }

// quoteClip quotes s as a JSON string, cut to at most n bytes (on a character boundary, with …).
func quoteClip(s string, n int) string {
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return string(appendJSONString(nil, s))
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// clipList joins up to n of list's items, with the number left out.
func clipList(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:n], ", ") + fmt.Sprintf(" and %d more", len(list)-n)
}
