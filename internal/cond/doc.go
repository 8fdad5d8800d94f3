// Package cond is Beckon's condition language: the conditions of routing rules (SPEC R1) and of
// experience audiences (SPEC X1). A condition is data, JSON an admin saves; Compile validates it
// against a Schema of the subjects the caller offers, with errors that name the JSON path of
// the bad part, and compiles it once; Eval then answers, without allocating, whether a visitor
// described by Facts matches, and Trace says why.
//
// # The language
//
// A condition is a JSON object, a tree of groups and comparisons. Each object is exactly one of:
//
//	{"all": [c1, c2, ...]}   every condition in the list holds (a non-empty list)
//	{"any": [c1, c2, ...]}   at least one holds (a non-empty list)
//	{"not": c}               c does not hold
//	{"subject": "session.page_url", "op": "matches", "value": "*/pricing*"}   a comparison
//
// No other key is allowed, and no key twice. An empty condition — empty input, null or {} at
// the top — matches every visitor (a catch-all rule); an empty object or group anywhere inside
// is an error.
//
// For example, visitors from EMEA on the pricing page, from a company of 50 or more people, who
// are not already a customer:
//
//	{"all": [
//	  {"subject": "geo.territory", "op": "in", "value": ["EMEA"]},
//	  {"subject": "session.page_url", "op": "matches", "value": "*/pricing*"},
//	  {"subject": "company.size", "op": "gte", "value": 50},
//	  {"not": {"subject": "field.plan", "op": "eq", "value": "Customer"}}
//	]}
//
// # Subjects and operators
//
// The caller's Schema declares the subjects and their kind; the kind decides the operators, and
// what the value must be:
//
//	kind       operators                                                     value
//	text       eq neq contains not_contains starts_with ends_with           a string
//	           in not_in                                                    a list of strings
//	           exists not_exists                                            none
//	url        as text, and matches                                         a wildcard pattern
//	number     eq neq gt gte lt lte                                         a number
//	           between                                                      [low, high], inclusive
//	           exists not_exists                                            none
//	bool       is                                                           true or false
//	           exists not_exists                                            none
//	picklist   eq neq / in not_in / exists not_exists                       one of the subject's options
//	country    eq neq / in not_in / exists not_exists                       ISO 3166 alpha-2 codes, e.g. "DE"
//	territory  in not_in                                                    names of territories the schema defines
//	user       eq neq / in not_in / exists not_exists                       user ids the schema accepts
//
// Text, URLs and picklist values compare ignoring case (Unicode simple folding, as
// strings.EqualFold); country codes ignoring case; user ids exactly. A pattern of matches is
// a wildcard: * matches any run of characters (/ included, possibly none), every other character
// stands for itself (? . + [ included), and the whole value must match: "*/pricing*" matches
// "https://acme.com/pricing?plan=pro", "https://acme.com/pricing*" only URLs that begin so. A
// territory comparison asks for the visitor's country (the fact CountryFact, "geo.country") and
// holds when the country is (in) or is not (not_in) in the union of the named territories.
//
// # Unknown values
//
// A visitor's value may be unknown (no company size, no country); an empty text counts as
// unknown. exists holds when the value is known, not_exists when it is not. The negative
// operators are exact negations of the positive ones — neq of eq, not_in of in, not_contains of
// contains — so they hold for an unknown value, and {"not": {... "op": "eq" ...}} means the same
// as neq. Every other operator fails for an unknown value; in particular "is false" needs a
// known false (use {"not": {... "is": true}} to include the unknown).
//
// # Validation
//
// Values are normalised: country codes to upper case, picklist values and territory names to
// the schema's spelling. A string value must not be empty, must be at most MaxString bytes of
// one line without control characters, and, for eq, neq, in and not_in on text, URLs and
// users, must not begin or end with white space. Lists must not be empty nor repeat a value. A
// wildcard pattern must not hold ** nor be only stars (use exists). Limits: MaxSize bytes of
// JSON, MaxDepth levels, MaxNodes groups and comparisons, MaxList values in a list.
//
// Compile also refuses conditions that can never match, naming the group: an "all" group whose
// comparisons on one fact contradict each other (eq "a" and eq "b"; eq "a" and neq "a" or not_in
// a list with "a"; in lists with nothing in common; exists and not_exists; gt 10 and lt 5;
// is true and is false; geo.country eq "US" and geo.territory in ["EMEA"]; starts_with "a" and
// starts_with "b"; contains "ab" and not_contains "a"...), and a "not" of something that always
// holds ({"not": {"any": [exists, not_exists]}}); single comparisons that can never hold are
// refused too: in [], between [5, 1], in territories that have no countries. The check looks
// through nested "all" groups and through "not" (De Morgan's laws) but not across facts nor into
// "any" groups, so it refuses only what truly cannot match, not everything that cannot. (It
// does not take a picklist's options for all the values it can have: a visitor may keep a value
// of an option since removed.)
//
// JSON writes a compiled condition back in canonical form, which compiles to the same Expr.
// Stored conditions should be compiled again whenever the schema changes: a picklist option, a
// territory or a user they name may have gone, and Compile then refuses them.
package cond
