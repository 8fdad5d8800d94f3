package routing

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/cond"
	"github.com/beckonhq/beckon/internal/errs"
)

// Config is a workspace's routing configuration as an admin edits it: territories, teams, pools,
// an ordered list of rules and the default target. It is JSON (snake_case keys) and is published
// as numbered versions; Compile validates it and CompileConfig's Config method returns it
// normalised (defaults filled, conditions in canonical form).
type Config struct {
	Territories []Territory `json:"territories"`
	Teams       []Team      `json:"teams"`
	Pools       []Pool      `json:"pools"`
	Rules       []Rule      `json:"rules"`
	// Default is where a visitor goes when no rule matches; left out, it is capture.
	Default Target `json:"default"`
	// RingSeconds is how long a rung rep has to accept: DefaultRingSeconds when 0, otherwise
	// MinRingSeconds to MaxRingSeconds.
	RingSeconds int `json:"ring_seconds"`
	// MaxChats is how many open conversations a rep may take part in before routing skips them
	// ("at_cap"): DefaultMaxChats when 0, otherwise 1 to MaxMaxChats. A pool may set its own.
	MaxChats int `json:"max_chats"`
	// OwnerTakesTurn makes a conversation routed to the account owner use the owner's
	// round-robin turn in the pool the owner target names (R2); by default it does not.
	OwnerTakesTurn bool `json:"owner_takes_turn"`
}

// Territory is a named set of countries (ISO 3166 alpha-2 codes) that conditions on
// geo.territory name, such as EMEA or DACH. A country may be in several territories.
type Territory struct {
	Name      string   `json:"name"`
	Countries []string `json:"countries"`
}

// Team is a named group of users; a team target rings every eligible member at once.
type Team struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Members []string `json:"members"` // user ids
}

// Pool is a set of reps that share visitors by a strategy: RoundRobin, Broadcast or LeastBusy.
type Pool struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Strategy string   `json:"strategy"` // RoundRobin when empty
	Members  []Member `json:"members"`
	// MaxChats, when above 0, replaces Config.MaxChats for routing through this pool.
	MaxChats int `json:"max_chats"`
	// Fallback is where a pool target without a fallback of its own goes when no member can
	// take the visitor; nil ends the chain with capture.
	Fallback *Target `json:"fallback"`
}

// Member is a user in a pool with a round-robin weight: a member of weight 2 gets twice the turns
// of a member of weight 1. Weight 0 means 1; otherwise 1 to MaxWeight.
type Member struct {
	UserID string `json:"user_id"`
	Weight int    `json:"weight"`
}

// Rule routes the visitors its condition matches to its target. Rules are tried in order; the
// first enabled rule that matches wins.
type Rule struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Disabled bool            `json:"disabled"`
	When     json.RawMessage `json:"when"` // a condition of package cond; empty, null or {} matches every visitor
	Then     Target          `json:"then"`
}

// Target is where a rule (or the default, or a fallback) sends a visitor. Kind is one of
// KindOwner, KindPool, KindTeam, KindRep, KindBooker and KindCapture.
type Target struct {
	Kind string `json:"kind"`
	// Pool names the pool of a pool target; for an owner target, optionally the pool in whose
	// round-robin ledger the owner's turn counts when Config.OwnerTakesTurn is set.
	Pool string `json:"pool,omitempty"`
	Team string `json:"team,omitempty"` // a team target's team
	User string `json:"user,omitempty"` // a rep target's user id
	// Fallback is tried when nobody here can take the visitor. A pool target without one uses
	// its pool's Fallback; a chain that ends without placing the visitor ends with capture.
	// Booker and capture are terminal and take no fallback.
	Fallback *Target `json:"fallback,omitempty"`
}

// Target kinds.
const (
	KindOwner   = "owner"   // the visitor's CRM account owner
	KindPool    = "pool"    // a pool, by its strategy
	KindTeam    = "team"    // every eligible member of a team at once
	KindRep     = "rep"     // one user
	KindBooker  = "booker"  // terminal: offer the meeting booker
	KindCapture = "capture" // terminal: offer email capture
)

// Pool strategies.
const (
	RoundRobin = "round_robin" // one member at a time, in turn (weighted), through the pool's ledger
	Broadcast  = "broadcast"   // every eligible member rung at once; the first to accept takes it
	LeastBusy  = "least_busy"  // the eligible member with the fewest open conversations; ties in turn
)

// User roles and rep statuses as Env and RepState spell them.
const (
	RoleAdmin        = "admin"
	RoleRep          = "rep"
	RoleMeetingsOnly = "meetings_only" // booked for meetings, never offered chats (SPEC B6)

	StatusAvailable = "available"
	StatusAway      = "away"
	StatusOffline   = "offline"
)

// Limits of a configuration. Compile refuses a configuration beyond any of them.
const (
	MaxConfigSize      = 4 << 20 // bytes of JSON (errs.TooLarge)
	MaxRules           = 200
	MaxPools           = 100
	MaxTeams           = 100
	MaxMembers         = 500 // members of one pool or team
	MaxTerritories     = 100
	MaxCountries       = 300 // countries of one territory
	MaxFallbackDepth   = 10  // fallbacks nested in one target
	MaxIDLen           = 64  // bytes of a pool, team or rule id: [a-z0-9_-]
	MaxNameLen         = 100 // bytes of a name
	DefaultRingSeconds = 30
	MinRingSeconds     = 10
	MaxRingSeconds     = 600
	DefaultMaxChats    = 3
	MaxMaxChats        = 50
	MaxWeight          = 100
)

// ParseConfig reads a configuration from JSON without judging its content: it checks the syntax,
// the keys and the types of values, and leaves references, ranges and conditions to
// CompileConfig. null stands for a value left out.
//
// Errors are *errs.Error: errs.TooLarge past MaxConfigSize; errs.Malformed for input that is not
// one JSON object (a syntax error, text that is not UTF-8, more after the object), with Field
// the path reached; errs.Invalid with Field the path of the part at fault for an unknown or
// repeated key, a value of the wrong type, or a list or nesting past a limit.
func ParseConfig(raw []byte) (Config, error) {
	var cfg Config
	if len(raw) > MaxConfigSize {
		return cfg, errs.Field(errs.TooLarge, "", "is larger than %d MiB", MaxConfigSize>>20)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return cfg, errs.Field(errs.Malformed, "", "is empty: send the routing configuration as a JSON object")
	}
	r := reader{d: json.NewDecoder(bytes.NewReader(raw)), bad: -1}
	r.d.UseNumber()
	if !utf8.Valid(raw) {
		for i := 0; i < len(raw); {
			c, size := utf8.DecodeRune(raw[i:])
			if c == utf8.RuneError && size == 1 {
				r.bad = int64(i)
				break
			}
			i += size
		}
	}
	tok, err := r.token("")
	if err != nil {
		return cfg, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return cfg, errs.Field(errs.Malformed, "", "must be a JSON object: the routing configuration")
	}
	if err := r.fields("", "the configuration", configKeys, func(key, p string) error {
		return r.configField(&cfg, key, p)
	}); err != nil {
		return cfg, err
	}
	if _, err := r.d.Token(); err != io.EOF {
		return cfg, errs.Field(errs.Malformed, "", "holds more after the configuration; send one JSON object")
	}
	return cfg, nil
}

const (
	configKeys    = "territories, teams, pools, rules, default, ring_seconds, max_chats, owner_takes_turn"
	territoryKeys = "name, countries"
	teamKeys      = "id, name, members"
	poolKeys      = "id, name, strategy, members, max_chats, fallback"
	memberKeys    = "user_id, weight"
	ruleKeys      = "id, name, disabled, when, then"
	targetKeys    = "kind, pool, team, user, fallback"
)

// reader reads a configuration token by token, so that every error can name its path.
type reader struct {
	d   *json.Decoder
	bad int64 // offset of the first byte that is not UTF-8, or -1
}

func (r *reader) token(path string) (json.Token, error) {
	tok, err := r.d.Token()
	if err != nil {
		return nil, r.syntax(err, path)
	}
	if r.bad >= 0 && r.d.InputOffset() > r.bad {
		return nil, errs.Field(errs.Malformed, path, "holds text that is not valid UTF-8")
	}
	return tok, nil
}

func (r *reader) syntax(err error, path string) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Field(errs.Malformed, path, "is not valid JSON: it ends too soon")
	case errors.As(err, &se):
		return errs.Field(errs.Malformed, path, "is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
	}
	return &errs.Error{Kind: errs.Malformed, Field: path, Message: "is not valid JSON", Err: err}
}

// fields reads the members of an object whose '{' has been read, calling field for each key
// with the key's path, and the closing '}'. A key seen twice is refused.
func (r *reader) fields(path, what, keys string, field func(key, path string) error) error {
	var seen []string
	for r.d.More() {
		tok, err := r.token(path)
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errs.Field(errs.Malformed, path, "is not valid JSON: an object key must be a string")
		}
		kp := keyPath(path, key)
		for _, s := range seen {
			if s == key {
				return errs.Field(errs.Invalid, kp, "appears twice in the same object")
			}
		}
		seen = append(seen, key)
		if err := field(key, kp); err != nil {
			if err == errUnknownKey {
				return errs.Field(errs.Invalid, kp, "is not a key of %s (%s)", what, keys)
			}
			return err
		}
	}
	_, err := r.token(path)
	return err
}

// errUnknownKey is what a field function returns for a key it does not know.
var errUnknownKey = errors.New("unknown key")

// object reads an object at path: null (reported as false) or an object whose members go to
// field. what names the object in errors, e.g. "a pool".
func (r *reader) object(path, what, keys string, field func(key, path string) error) (bool, error) {
	tok, err := r.token(path)
	if err != nil {
		return false, err
	}
	if tok == nil {
		return false, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return false, errs.Field(errs.Invalid, path, "must be an object: %s (%s)", what, keys)
	}
	return true, r.fields(path, what, keys, field)
}

// list reads a list at path (or null), calling item for each element; more than max elements
// are refused. what names the list in errors, e.g. "pools".
func (r *reader) list(path, what string, max int, item func(i int, path string) error) error {
	tok, err := r.token(path)
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return errs.Field(errs.Invalid, path, "must be a list of %s", what)
	}
	for i := 0; r.d.More(); i++ {
		if i == max {
			return errs.Field(errs.Invalid, path, "has more than %d %s; the limit is %d", max, what, max)
		}
		if err := item(i, indexPath(path, i)); err != nil {
			return err
		}
	}
	_, err = r.token(path)
	return err
}

func (r *reader) str(path string) (string, error) {
	tok, err := r.token(path)
	if err != nil {
		return "", err
	}
	switch t := tok.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	}
	return "", errs.Field(errs.Invalid, path, "must be a string")
}

func (r *reader) integer(path string) (int, error) {
	tok, err := r.token(path)
	if err != nil {
		return 0, err
	}
	switch t := tok.(type) {
	case nil:
		return 0, nil
	case json.Number:
		n, err := strconv.ParseInt(string(t), 10, 32)
		if err == nil {
			return int(n), nil
		}
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, errs.Field(errs.Invalid, path, "is out of range")
		}
		if f, err := strconv.ParseFloat(string(t), 64); err == nil && f == float64(int64(f)) && f > -1e9 && f < 1e9 {
			return int(f), nil // 30.0, 3e1
		}
		return 0, errs.Field(errs.Invalid, path, "must be a whole number")
	}
	return 0, errs.Field(errs.Invalid, path, "must be a whole number")
}

func (r *reader) boolean(path string) (bool, error) {
	tok, err := r.token(path)
	if err != nil {
		return false, err
	}
	switch t := tok.(type) {
	case nil:
		return false, nil
	case bool:
		return t, nil
	}
	return false, errs.Field(errs.Invalid, path, "must be true or false")
}

// raw reads the next value whole, for a condition that package cond reads itself.
func (r *reader) raw(path string) (json.RawMessage, error) {
	var m json.RawMessage
	if err := r.d.Decode(&m); err != nil {
		return nil, r.syntax(err, path)
	}
	if r.bad >= 0 && r.d.InputOffset() > r.bad {
		return nil, errs.Field(errs.Malformed, path, "holds text that is not valid UTF-8")
	}
	return m, nil
}

func (r *reader) strings(path, what string, max int) ([]string, error) {
	var out []string
	err := r.list(path, what, max, func(i int, p string) error {
		s, err := r.str(p)
		out = append(out, s)
		return err
	})
	return out, err
}

func (r *reader) configField(cfg *Config, key, p string) error {
	var err error
	switch key {
	case "territories":
		err = r.list(p, "territories", MaxTerritories, func(i int, p string) error {
			var t Territory
			_, err := r.object(p, "a territory", territoryKeys, func(key, p string) error {
				var err error
				switch key {
				case "name":
					t.Name, err = r.str(p)
				case "countries":
					t.Countries, err = r.strings(p, "country codes", MaxCountries)
				default:
					return errUnknownKey
				}
				return err
			})
			cfg.Territories = append(cfg.Territories, t)
			return err
		})
	case "teams":
		err = r.list(p, "teams", MaxTeams, func(i int, p string) error {
			var t Team
			_, err := r.object(p, "a team", teamKeys, func(key, p string) error {
				var err error
				switch key {
				case "id":
					t.ID, err = r.str(p)
				case "name":
					t.Name, err = r.str(p)
				case "members":
					t.Members, err = r.strings(p, "user ids", MaxMembers)
				default:
					return errUnknownKey
				}
				return err
			})
			cfg.Teams = append(cfg.Teams, t)
			return err
		})
	case "pools":
		err = r.list(p, "pools", MaxPools, func(i int, p string) error {
			pool, err := r.pool(p)
			cfg.Pools = append(cfg.Pools, pool)
			return err
		})
	case "rules":
		err = r.list(p, "rules", MaxRules, func(i int, p string) error {
			rule, err := r.rule(p)
			cfg.Rules = append(cfg.Rules, rule)
			return err
		})
	case "default":
		var t *Target
		t, err = r.target(p, 0)
		if t != nil {
			cfg.Default = *t
		}
	case "ring_seconds":
		cfg.RingSeconds, err = r.integer(p)
	case "max_chats":
		cfg.MaxChats, err = r.integer(p)
	case "owner_takes_turn":
		cfg.OwnerTakesTurn, err = r.boolean(p)
	default:
		return errUnknownKey
	}
	return err
}

func (r *reader) pool(p string) (Pool, error) {
	var pool Pool
	_, err := r.object(p, "a pool", poolKeys, func(key, p string) error {
		var err error
		switch key {
		case "id":
			pool.ID, err = r.str(p)
		case "name":
			pool.Name, err = r.str(p)
		case "strategy":
			pool.Strategy, err = r.str(p)
		case "members":
			err = r.list(p, "members", MaxMembers, func(i int, p string) error {
				var m Member
				_, err := r.object(p, "a member", memberKeys, func(key, p string) error {
					var err error
					switch key {
					case "user_id":
						m.UserID, err = r.str(p)
					case "weight":
						m.Weight, err = r.integer(p)
					default:
						return errUnknownKey
					}
					return err
				})
				pool.Members = append(pool.Members, m)
				return err
			})
		case "max_chats":
			pool.MaxChats, err = r.integer(p)
		case "fallback":
			pool.Fallback, err = r.target(p, 1)
		default:
			return errUnknownKey
		}
		return err
	})
	return pool, err
}

func (r *reader) rule(p string) (Rule, error) {
	var rule Rule
	_, err := r.object(p, "a rule", ruleKeys, func(key, p string) error {
		var err error
		switch key {
		case "id":
			rule.ID, err = r.str(p)
		case "name":
			rule.Name, err = r.str(p)
		case "disabled":
			rule.Disabled, err = r.boolean(p)
		case "when":
			rule.When, err = r.raw(p)
		case "then":
			var t *Target
			t, err = r.target(p, 0)
			if t != nil {
				rule.Then = *t
			}
		default:
			return errUnknownKey
		}
		return err
	})
	return rule, err
}

// target reads a target (nil for null); depth counts the fallbacks it is nested in.
func (r *reader) target(p string, depth int) (*Target, error) {
	if depth > MaxFallbackDepth {
		return nil, errs.Field(errs.Invalid, p, "is more than %d fallbacks deep; shorten the chain", MaxFallbackDepth)
	}
	var t Target
	ok, err := r.object(p, "a target", targetKeys, func(key, p string) error {
		var err error
		switch key {
		case "kind":
			t.Kind, err = r.str(p)
		case "pool":
			t.Pool, err = r.str(p)
		case "team":
			t.Team, err = r.str(p)
		case "user":
			t.User, err = r.str(p)
		case "fallback":
			t.Fallback, err = r.target(p, depth+1)
		default:
			return errUnknownKey
		}
		return err
	})
	if !ok || err != nil {
		return nil, err
	}
	return &t, nil
}

// keyPath is the path of key in the object at path (cond.KeyPath).
func keyPath(path, key string) string { return cond.KeyPath(path, key) }

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// quote quotes s as JSON, cut to at most n bytes on a character boundary (cond.QuoteClip).
func quote(s string, n int) string { return cond.QuoteClip(s, n) }
