package routing

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/beckonhq/beckon/internal/cond"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/visitor/geo"
)

// Env is what a configuration is checked against: the workspace's visitor fields, which
// conditions may compare, and its users, whom pools, teams and targets may name.
type Env struct {
	Fields []FieldDef
	Users  map[string]UserInfo // by user id: every user of the workspace
}

// FieldDef is a visitor field of the workspace. Type is "text", "email", "number", "boolean" or
// "picklist" (with Options); an unknown type is taken as text.
type FieldDef struct {
	Key     string
	Label   string
	Type    string
	Options []string
}

// UserInfo is a user of the workspace: Role is RoleAdmin, RoleRep or RoleMeetingsOnly.
type UserInfo struct {
	Name   string
	Role   string
	Active bool
}

// Compiled is a configuration validated and prepared for Decide: conditions compiled, targets
// and fallback chains resolved. It is immutable and safe for concurrent use; build it once per
// published version.
type Compiled struct {
	cfg      Config
	rules    []crule
	def      *ctarget
	pools    []cpool
	teams    []cteam
	names    map[string]string // user id → name, from the Env
	problems []*errs.Error
	reach    func() map[string]bool // the users it could offer a visitor to (reachable), worked out once
}

type crule struct {
	id, name string
	disabled bool
	broken   string // Load only: why the condition no longer compiles; the rule then never matches
	expr     *cond.Expr
	then     *ctarget
}

// ctarget is a target with its references resolved. next is where the chain goes when nobody
// here can take the visitor: the target's own fallback, or for a pool target without one the
// pool's (viaPool), or nil for the end of the chain.
type ctarget struct {
	kind    string
	pool    *cpool
	team    *cteam
	user    string
	next    *ctarget
	viaPool bool
}

type cpool struct {
	id, name, strategy string
	cap                int
	members            []cmember
	index              map[string]int // user id → index in members
	fallback           *ctarget
	raw                *Target
	built              bool
}

type cmember struct {
	id     string
	weight int
	stride int64
}

type cteam struct {
	id, name string
	members  []string
}

// Compile reads and validates a configuration (see ParseConfig for reading) against env, as
// when an admin saves or publishes it, and returns it compiled. Errors are *errs.Error with
// Field the JSON path of the part at fault: those of ParseConfig, and errs.Invalid for anything
// CompileConfig refuses.
func Compile(raw []byte, env Env) (*Compiled, error) {
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	return CompileConfig(cfg, env)
}

// CompileConfig validates cfg against env and returns it compiled; cfg is not modified. It fills
// defaults (ring_seconds, max_chats, weights, a pool's strategy, names from ids, the default
// target capture) and refuses, with an *errs.Error of kind errs.Invalid whose Field is the JSON
// path at fault (e.g. "pools[1].members[0].user_id", "rules[2].when.all[0].value"):
//
//   - a value out of range (ring_seconds, max_chats, weights) or past a limit (MaxRules,
//     MaxPools, MaxTeams, MaxMembers, MaxTerritories, MaxCountries, MaxFallbackDepth);
//   - a missing, malformed or repeated id of a pool, team or rule, a repeated or badly written
//     territory name, an unknown or repeated country code, a territory without countries;
//   - an empty pool or team, a bad strategy, a weight above 1 in a broadcast pool (weights mean
//     nothing there), a member listed twice;
//   - a user who is not a user of the workspace, is deactivated, or is meetings-only (never
//     offered chats) in a pool, a team or a rep target;
//   - a target of unknown kind, naming a pool, team or user it should not or that does not
//     exist, or a fallback after booker or capture;
//   - pools whose fallbacks lead back to themselves, at the fallback of the first pool of the
//     circle, e.g. "falls back in a circle: a → b → a";
//   - a condition that cond.Compile refuses (path "rules[i].when…"), including one that can never
//     match.
func CompileConfig(cfg Config, env Env) (*Compiled, error) {
	return compile(cfg, env, true)
}

// Load compiles a configuration that was valid when it was published, against the workspace as
// it is now, so that routing keeps working when the workspace changes under it. Where Compile
// would refuse something that depends on env — a member or rep target who has since been
// deactivated, turned meetings-only or removed; a condition naming a picklist option, a user or a
// field that is gone — Load keeps going: such reps are simply never offered (Decide skips them),
// a condition is compiled again with picklists read as text and any user id accepted, and a rule
// whose condition still does not compile never matches (its trace says why). Problems returns what
// it tolerated. Every other error is Compile's.
func Load(raw []byte, env Env) (*Compiled, error) {
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	return compile(cfg, env, false)
}

// Problems returns what Load tolerated, each an *errs.Error of kind errs.Invalid whose Field is
// the path at fault, in the order found; nil for a configuration compiled by Compile or
// CompileConfig, or loaded without any. The slice is the caller's.
func (c *Compiled) Problems() []*errs.Error { return slices.Clone(c.problems) }

// Config returns the configuration normalised: defaults filled, names and country codes
// tidied, conditions in cond's canonical JSON. It is a copy, the caller's to change.
func (c *Compiled) Config() Config { return cloneConfig(c.cfg) }

type compiler struct {
	env      Env
	strict   bool
	cfg      *Config
	pools    map[string]int
	teams    map[string]int
	problems []*errs.Error
}

func compile(in Config, env Env, strict bool) (*Compiled, error) {
	cfg := cloneConfig(in)
	c := &compiler{env: env, strict: strict, cfg: &cfg}
	if err := c.settings(); err != nil {
		return nil, err
	}
	if err := c.territories(); err != nil {
		return nil, err
	}
	if err := c.teamsCheck(); err != nil {
		return nil, err
	}
	if err := c.poolsCheck(); err != nil {
		return nil, err
	}
	exprs, broken, err := c.rules()
	if err != nil {
		return nil, err
	}
	if cfg.Default.Kind == "" && cfg.Default.Pool == "" && cfg.Default.Team == "" && cfg.Default.User == "" && cfg.Default.Fallback == nil {
		cfg.Default.Kind = KindCapture
	}
	if err := c.target(&cfg.Default, "default", 0); err != nil {
		return nil, err
	}
	return c.build(exprs, broken), nil
}

func (c *compiler) invalid(path, format string, args ...any) error {
	return errs.Field(errs.Invalid, path, format, args...)
}

func (c *compiler) settings() error {
	cfg := c.cfg
	switch {
	case cfg.RingSeconds == 0:
		cfg.RingSeconds = DefaultRingSeconds
	case cfg.RingSeconds < MinRingSeconds || cfg.RingSeconds > MaxRingSeconds:
		return c.invalid("ring_seconds", "must be from %d to %d seconds", MinRingSeconds, MaxRingSeconds)
	}
	switch {
	case cfg.MaxChats == 0:
		cfg.MaxChats = DefaultMaxChats
	case cfg.MaxChats < 1 || cfg.MaxChats > MaxMaxChats:
		return c.invalid("max_chats", "must be from 1 to %d conversations", MaxMaxChats)
	}
	return nil
}

func (c *compiler) territories() error {
	ts := c.cfg.Territories
	if len(ts) > MaxTerritories {
		return c.invalid("territories", "has more than %d territories; the limit is %d", MaxTerritories, MaxTerritories)
	}
	for i := range ts {
		t := &ts[i]
		p := indexPath("territories", i)
		name, err := text(keyPath(p, "name"), t.Name)
		if err != nil {
			return err
		}
		if name == "" {
			return c.invalid(keyPath(p, "name"), "is required")
		}
		for j := range i {
			if strings.EqualFold(ts[j].Name, name) {
				return c.invalid(keyPath(p, "name"), "repeats the name of territories[%d] (%s)", j, quote(ts[j].Name, 60))
			}
		}
		t.Name = name
		cp := keyPath(p, "countries")
		switch {
		case len(t.Countries) == 0:
			return c.invalid(cp, "is empty: a territory needs at least one country")
		case len(t.Countries) > MaxCountries:
			return c.invalid(cp, "has more than %d country codes; the limit is %d", MaxCountries, MaxCountries)
		}
		for k, code := range t.Countries {
			up := strings.ToUpper(code)
			if len(up) != 2 || geo.CountryName(up) == "" {
				return c.invalid(indexPath(cp, k), "%s is not an ISO 3166 country code (two letters, such as DE or US)", quote(code, 60))
			}
			if slices.Contains(t.Countries[:k], up) {
				return c.invalid(indexPath(cp, k), "repeats %s", quote(up, 10))
			}
			t.Countries[k] = up
		}
	}
	return nil
}

func (c *compiler) teamsCheck() error {
	ts := c.cfg.Teams
	if len(ts) > MaxTeams {
		return c.invalid("teams", "has more than %d teams; the limit is %d", MaxTeams, MaxTeams)
	}
	c.teams = make(map[string]int, len(ts))
	for i := range ts {
		t := &ts[i]
		p := indexPath("teams", i)
		if err := c.id(keyPath(p, "id"), t.ID, c.teams, "teams", i); err != nil {
			return err
		}
		name, err := text(keyPath(p, "name"), t.Name)
		if err != nil {
			return err
		}
		t.Name = cmp(name, t.ID)
		mp := keyPath(p, "members")
		switch {
		case len(t.Members) == 0:
			return c.invalid(mp, "is empty: a team needs at least one member")
		case len(t.Members) > MaxMembers:
			return c.invalid(mp, "has more than %d members; the limit is %d", MaxMembers, MaxMembers)
		}
		for k, u := range t.Members {
			if err := c.chatUser(indexPath(mp, k), u); err != nil {
				return err
			}
			if slices.Contains(t.Members[:k], u) {
				return c.invalid(indexPath(mp, k), "repeats %s", c.who(u))
			}
		}
	}
	return nil
}

func (c *compiler) poolsCheck() error {
	ps := c.cfg.Pools
	if len(ps) > MaxPools {
		return c.invalid("pools", "has more than %d pools; the limit is %d", MaxPools, MaxPools)
	}
	c.pools = make(map[string]int, len(ps))
	for i := range ps {
		pl := &ps[i]
		p := indexPath("pools", i)
		if err := c.id(keyPath(p, "id"), pl.ID, c.pools, "pools", i); err != nil {
			return err
		}
		name, err := text(keyPath(p, "name"), pl.Name)
		if err != nil {
			return err
		}
		pl.Name = cmp(name, pl.ID)
		switch pl.Strategy {
		case "":
			pl.Strategy = RoundRobin
		case RoundRobin, Broadcast, LeastBusy:
		default:
			return c.invalid(keyPath(p, "strategy"), "%s is not a strategy: use round_robin, broadcast or least_busy", quote(pl.Strategy, 40))
		}
		if pl.MaxChats < 0 || pl.MaxChats > MaxMaxChats {
			return c.invalid(keyPath(p, "max_chats"), "must be from 1 to %d conversations, or 0 for the configuration's max_chats", MaxMaxChats)
		}
		mp := keyPath(p, "members")
		switch {
		case len(pl.Members) == 0:
			return c.invalid(mp, "is empty: a pool needs at least one member")
		case len(pl.Members) > MaxMembers:
			return c.invalid(mp, "has more than %d members; the limit is %d", MaxMembers, MaxMembers)
		}
		for k := range pl.Members {
			m := &pl.Members[k]
			ip := indexPath(mp, k)
			if err := c.chatUser(keyPath(ip, "user_id"), m.UserID); err != nil {
				return err
			}
			for j := range k {
				if pl.Members[j].UserID == m.UserID {
					return c.invalid(keyPath(ip, "user_id"), "repeats %s (members[%d])", c.who(m.UserID), j)
				}
			}
			wp := keyPath(ip, "weight")
			switch {
			case m.Weight < 0 || m.Weight > MaxWeight:
				return c.invalid(wp, "must be from 1 to %d", MaxWeight)
			case m.Weight > 1 && pl.Strategy == Broadcast:
				return c.invalid(wp, "means nothing in a broadcast pool, which rings every eligible member at once; remove it or use round_robin")
			case m.Weight == 0:
				m.Weight = 1
			}
		}
	}
	for i := range ps {
		if ps[i].Fallback != nil {
			if err := c.target(ps[i].Fallback, keyPath(indexPath("pools", i), "fallback"), 1); err != nil {
				return err
			}
		}
	}
	return c.cycles()
}

// cycles refuses pools whose fallbacks lead back to a pool whose fallback has already been
// taken: Decide would go round for ever. For each pool it follows the chain Decide would follow
// if nobody anywhere could take the visitor, which is the longest.
func (c *compiler) cycles() error {
	ps := c.cfg.Pools
	for i := range ps {
		seq := []string{ps[i].ID}
		entered := map[string]bool{ps[i].ID: true}
		for t := ps[i].Fallback; t != nil; {
			if t.Kind == KindPool {
				seq = append(seq, t.Pool)
			}
			if t.Fallback != nil {
				t = t.Fallback
				continue
			}
			if t.Kind != KindPool {
				break
			}
			if entered[t.Pool] {
				first := slices.Index(seq, t.Pool)
				at := c.pools[t.Pool]
				return c.invalid(keyPath(indexPath("pools", at), "fallback"),
					"falls back in a circle: %s; end the chain with booker, capture or a pool that does not lead back",
					strings.Join(seq[first:], " → "))
			}
			entered[t.Pool] = true
			t = ps[c.pools[t.Pool]].Fallback
		}
	}
	return nil
}

func (c *compiler) rules() ([]*cond.Expr, []string, error) {
	rs := c.cfg.Rules
	if len(rs) > MaxRules {
		return nil, nil, c.invalid("rules", "has more than %d rules; the limit is %d", MaxRules, MaxRules)
	}
	schema := Schema(c.env, *c.cfg)
	var loose cond.Schema
	exprs := make([]*cond.Expr, len(rs))
	broken := make([]string, len(rs))
	ids := make(map[string]int, len(rs))
	for i := range rs {
		r := &rs[i]
		p := indexPath("rules", i)
		if err := c.id(keyPath(p, "id"), r.ID, ids, "rules", i); err != nil {
			return nil, nil, err
		}
		name, err := text(keyPath(p, "name"), r.Name)
		if err != nil {
			return nil, nil, err
		}
		r.Name = cmp(name, r.ID)
		wp := keyPath(p, "when")
		e, err := cond.Compile(r.When, wp, schema)
		if err != nil {
			ee := errs.As(err)
			if c.strict || ee == nil {
				return nil, nil, err
			}
			c.problems = append(c.problems, ee)
			if loose.Subjects == nil {
				loose = looseSchema(c.env, *c.cfg)
			}
			if e, err = cond.Compile(r.When, wp, loose); err != nil {
				broken[i] = ee.Field + ": " + ee.Message
			}
		}
		if e != nil {
			exprs[i] = e
			r.When = e.JSON()
		}
		if err := c.target(&r.Then, keyPath(p, "then"), 0); err != nil {
			return nil, nil, err
		}
	}
	return exprs, broken, nil
}

// target checks a target at path, nested in depth fallbacks.
func (c *compiler) target(t *Target, path string, depth int) error {
	if depth > MaxFallbackDepth {
		return c.invalid(path, "is more than %d fallbacks deep; shorten the chain", MaxFallbackDepth)
	}
	kp := keyPath(path, "kind")
	switch t.Kind {
	case "":
		return c.invalid(kp, "is required: owner, pool, team, rep, booker or capture")
	case KindOwner, KindPool, KindTeam, KindRep, KindBooker, KindCapture:
	default:
		return c.invalid(kp, "%s is not a kind of target: use owner, pool, team, rep, booker or capture", quote(t.Kind, 40))
	}
	pp := keyPath(path, "pool")
	switch {
	case t.Kind == KindPool && t.Pool == "":
		return c.invalid(pp, "is required for a pool target")
	case t.Pool != "" && t.Kind != KindPool && t.Kind != KindOwner:
		return c.invalid(pp, "must be left out: only pool and owner targets name a pool")
	case t.Pool != "":
		if _, ok := c.pools[t.Pool]; !ok {
			return c.invalid(pp, "%s is not a pool (%s)", quote(t.Pool, 64), c.list(c.pools))
		}
	}
	tp := keyPath(path, "team")
	switch {
	case t.Kind == KindTeam && t.Team == "":
		return c.invalid(tp, "is required for a team target")
	case t.Team != "" && t.Kind != KindTeam:
		return c.invalid(tp, "must be left out: only team targets name a team")
	case t.Team != "":
		if _, ok := c.teams[t.Team]; !ok {
			return c.invalid(tp, "%s is not a team (%s)", quote(t.Team, 64), c.list(c.teams))
		}
	}
	up := keyPath(path, "user")
	switch {
	case t.Kind == KindRep:
		if err := c.chatUser(up, t.User); err != nil {
			return err
		}
	case t.User != "":
		return c.invalid(up, "must be left out: only rep targets name a user")
	}
	if t.Fallback != nil {
		fp := keyPath(path, "fallback")
		if t.Kind == KindBooker || t.Kind == KindCapture {
			return c.invalid(fp, "must be left out: %s ends the chain", t.Kind)
		}
		return c.target(t.Fallback, fp, depth+1)
	}
	return nil
}

// list names the ids of a map for an error message.
func (c *compiler) list(ids map[string]int) string {
	if len(ids) == 0 {
		return "there are none"
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	slices.Sort(out)
	if len(out) > 12 {
		return strings.Join(out[:12], ", ") + fmt.Sprintf(" and %d more", len(out)-12)
	}
	return strings.Join(out, ", ")
}

// id checks the id of the i-th item of a list and records it in seen.
func (c *compiler) id(path, id string, seen map[string]int, list string, i int) error {
	switch {
	case id == "":
		return c.invalid(path, "is required")
	case len(id) > MaxIDLen:
		return c.invalid(path, "is longer than %d characters", MaxIDLen)
	}
	for j := 0; j < len(id); j++ {
		b := id[j]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return c.invalid(path, "%s is not a valid id: use lower-case letters, digits, _ and -", quote(id, 64))
		}
	}
	if j, dup := seen[id]; dup {
		return c.invalid(path, "repeats the id of %s[%d]", list, j)
	}
	seen[id] = i
	return nil
}

// chatUser checks that id names a user who can be offered chats. Load tolerates (and records)
// what depends on the workspace's users.
func (c *compiler) chatUser(path, id string) error {
	if id == "" {
		return c.invalid(path, "is required")
	}
	u, ok := c.env.Users[id]
	var e *errs.Error
	switch {
	case !ok:
		e = errs.Field(errs.Invalid, path, "%s is not a user of this workspace", quote(id, 64))
	case !u.Active:
		e = errs.Field(errs.Invalid, path, "%s is deactivated; remove them or reactivate their account", c.who(id))
	case u.Role == RoleMeetingsOnly:
		e = errs.Field(errs.Invalid, path, "%s is a meetings-only user, who never receives chats", c.who(id))
	default:
		return nil
	}
	if c.strict {
		return e
	}
	c.problems = append(c.problems, e)
	return nil
}

// who names a user for people: "Dana Lee (usr_1)", or the quoted id.
func (c *compiler) who(id string) string {
	if u, ok := c.env.Users[id]; ok && u.Name != "" {
		return u.Name + " (" + id + ")"
	}
	return quote(id, 64)
}

// text checks a name and returns it without surrounding white space; "" is allowed.
func text(path, s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxNameLen {
		return "", errs.Field(errs.Invalid, path, "is longer than %d bytes", MaxNameLen)
	}
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf) && r != '\u200d' || r == utf8RuneError {
			return "", errs.Field(errs.Invalid, path, "must be plain text on one line, without control characters")
		}
	}
	return s, nil
}

const utf8RuneError = '\uFFFD'

// cmp returns s, or def when s is empty.
func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// build prepares the validated configuration for Decide.
func (c *compiler) build(exprs []*cond.Expr, broken []string) *Compiled {
	cfg := *c.cfg
	out := &Compiled{cfg: cfg, problems: c.problems, names: make(map[string]string, len(c.env.Users))}
	out.reach = sync.OnceValue(out.reachable)
	for id, u := range c.env.Users {
		if u.Name != "" {
			out.names[id] = u.Name
		}
	}
	out.teams = make([]cteam, len(cfg.Teams))
	for i, t := range cfg.Teams {
		out.teams[i] = cteam{id: t.ID, name: t.Name, members: t.Members}
	}
	out.pools = make([]cpool, len(cfg.Pools))
	for i, p := range cfg.Pools {
		cp := cpool{id: p.ID, name: p.Name, strategy: p.Strategy, cap: p.MaxChats, raw: p.Fallback,
			members: make([]cmember, len(p.Members)), index: make(map[string]int, len(p.Members))}
		if cp.cap == 0 {
			cp.cap = cfg.MaxChats
		}
		for k, m := range p.Members {
			cp.members[k] = cmember{id: m.UserID, weight: m.Weight, stride: stride(m.Weight)}
			cp.index[m.UserID] = k
		}
		out.pools[i] = cp
	}
	b := builder{c: c, out: out}
	out.rules = make([]crule, len(cfg.Rules))
	for i, r := range cfg.Rules {
		out.rules[i] = crule{id: r.ID, name: r.Name, disabled: r.Disabled, broken: broken[i], expr: exprs[i], then: b.target(&cfg.Rules[i].Then)}
	}
	out.def = b.target(&cfg.Default)
	return out
}

type builder struct {
	c   *compiler
	out *Compiled
}

func (b *builder) target(t *Target) *ctarget {
	if t == nil {
		return nil
	}
	ct := &ctarget{kind: t.Kind, user: t.User}
	if t.Pool != "" {
		ct.pool = &b.out.pools[b.c.pools[t.Pool]]
	}
	if t.Team != "" {
		ct.team = &b.out.teams[b.c.teams[t.Team]]
	}
	switch {
	case t.Fallback != nil:
		ct.next = b.target(t.Fallback)
	case t.Kind == KindPool:
		// The pools' fallbacks have no cycle (compiler.cycles), so this ends.
		p := ct.pool
		if !p.built {
			p.built = true
			p.fallback = b.target(p.raw)
		}
		ct.next, ct.viaPool = p.fallback, p.fallback != nil
	}
	return ct
}

// Schema returns the condition schema of a workspace with configuration cfg: the subjects of
// Subjects, cfg's territories, and the workspace's users for visitor.previous_rep. Compile
// checks rules' conditions against it.
func Schema(env Env, cfg Config) cond.Schema {
	s := cond.Schema{Territories: make(map[string][]string, len(cfg.Territories))}
	for _, t := range cfg.Territories {
		codes := make([]string, len(t.Countries))
		for i, code := range t.Countries {
			codes[i] = strings.ToUpper(code)
		}
		s.Territories[t.Name] = codes
	}
	for _, sub := range Subjects(env, cfg) {
		s.Subjects = append(s.Subjects, cond.Subject{Name: sub.Name, Label: sub.Label, Kind: sub.Kind, Options: sub.Options})
	}
	users := env.Users
	s.ValidUser = func(id string) bool { _, ok := users[id]; return ok }
	return s
}

// looseSchema is Schema for Load: picklist fields compared as text (same operators, same
// comparison ignoring case, any value) and any user id accepted.
func looseSchema(env Env, cfg Config) cond.Schema {
	s := Schema(env, cfg)
	for i := range s.Subjects {
		if s.Subjects[i].Kind == cond.Picklist && strings.HasPrefix(s.Subjects[i].Name, "field.") {
			s.Subjects[i].Kind, s.Subjects[i].Options = cond.Text, nil
		}
	}
	s.ValidUser = nil
	return s
}

// SubjectInfo is a subject routing conditions may compare, as the console's rules editor
// offers it.
type SubjectInfo struct {
	Name    string    `json:"name"`              // as conditions write it, e.g. "geo.territory"
	Label   string    `json:"label"`             // for people, e.g. "Territory"
	Group   string    `json:"group"`             // the editor's heading: "Visitor fields", "Session", "Location", "Company and account", "Visitor"
	Kind    cond.Kind `json:"kind"`              // "text", "url", "number", "bool", "picklist", "country", "territory" or "user"
	Options []string  `json:"options,omitempty"` // a picklist's options; for geo.territory the territories' names
	Ops     []cond.Op `json:"ops"`               // the operators the kind allows, in the order to offer them
}

// Subject names routing offers besides "field.<key>".
const (
	SubjectPageURL      = "session.page_url"
	SubjectReferrer     = "session.referrer"
	SubjectLandingURL   = "session.landing_url"
	SubjectUTMSource    = "session.utm_source"
	SubjectUTMMedium    = "session.utm_medium"
	SubjectUTMCampaign  = "session.utm_campaign"
	SubjectUTMTerm      = "session.utm_term"
	SubjectUTMContent   = "session.utm_content"
	SubjectDevice       = "session.device"
	SubjectLanguage     = "session.language"
	SubjectCountry      = "geo.country" // cond.CountryFact
	SubjectRegion       = "geo.region"
	SubjectTerritory    = "geo.territory"
	SubjectCompanySize  = "company.size"
	SubjectTarget       = "account.target"
	SubjectOwnerPresent = "account.owner_present"
	SubjectPreviousRep  = "visitor.previous_rep"
	SubjectReturning    = "visitor.returning"
)

// regions are the options of geo.region, the sales regions of package geo.
var regions = []string{"AMER", "EMEA", "APAC"}

var fixedSubjects = []SubjectInfo{
	{Name: SubjectPageURL, Label: "Page URL", Group: "Session", Kind: cond.URL},
	{Name: SubjectReferrer, Label: "Referrer", Group: "Session", Kind: cond.URL},
	{Name: SubjectLandingURL, Label: "Landing page URL", Group: "Session", Kind: cond.URL},
	{Name: SubjectUTMSource, Label: "UTM source", Group: "Session", Kind: cond.Text},
	{Name: SubjectUTMMedium, Label: "UTM medium", Group: "Session", Kind: cond.Text},
	{Name: SubjectUTMCampaign, Label: "UTM campaign", Group: "Session", Kind: cond.Text},
	{Name: SubjectUTMTerm, Label: "UTM term", Group: "Session", Kind: cond.Text},
	{Name: SubjectUTMContent, Label: "UTM content", Group: "Session", Kind: cond.Text},
	{Name: SubjectDevice, Label: "Device", Group: "Session", Kind: cond.Text},
	{Name: SubjectLanguage, Label: "Language", Group: "Session", Kind: cond.Text},
	{Name: SubjectCountry, Label: "Country", Group: "Location", Kind: cond.Country},
	{Name: SubjectRegion, Label: "Sales region", Group: "Location", Kind: cond.Picklist},
	{Name: SubjectTerritory, Label: "Territory", Group: "Location", Kind: cond.Territory},
	{Name: SubjectCompanySize, Label: "Company size (employees)", Group: "Company and account", Kind: cond.Number},
	{Name: SubjectTarget, Label: "Target account", Group: "Company and account", Kind: cond.Bool},
	{Name: SubjectOwnerPresent, Label: "CRM account has an owner", Group: "Company and account", Kind: cond.Bool},
	{Name: SubjectPreviousRep, Label: "Previous rep", Group: "Visitor", Kind: cond.User},
	{Name: SubjectReturning, Label: "Returning visitor", Group: "Visitor", Kind: cond.Bool},
}

// Subjects returns the subjects routing conditions may compare in a workspace with
// configuration cfg, in the order an editor should list them: each visitor field as
// "field.<key>" (text and email fields as text, number as number, boolean as bool, picklist as
// picklist with its options; another type as text), then the session's, location's, company's
// and visitor's subjects. The slice is the caller's.
func Subjects(env Env, cfg Config) []SubjectInfo {
	out := make([]SubjectInfo, 0, len(env.Fields)+len(fixedSubjects))
	for _, f := range env.Fields {
		s := SubjectInfo{Name: "field." + f.Key, Label: cmp(f.Label, f.Key), Group: "Visitor fields", Kind: cond.Text}
		switch f.Type {
		case "number":
			s.Kind = cond.Number
		case "boolean":
			s.Kind = cond.Bool
		case "picklist":
			s.Kind, s.Options = cond.Picklist, slices.Clone(f.Options)
		}
		out = append(out, s)
	}
	for _, s := range fixedSubjects {
		switch s.Name {
		case SubjectRegion:
			s.Options = slices.Clone(regions)
		case SubjectTerritory:
			for _, t := range cfg.Territories {
				s.Options = append(s.Options, t.Name)
			}
		}
		out = append(out, s)
	}
	for i := range out {
		out[i].Ops = cond.Ops(out[i].Kind)
	}
	return out
}

func cloneConfig(c Config) Config {
	out := c
	out.Territories = slices.Clone(c.Territories)
	for i := range out.Territories {
		out.Territories[i].Countries = slices.Clone(c.Territories[i].Countries)
	}
	out.Teams = slices.Clone(c.Teams)
	for i := range out.Teams {
		out.Teams[i].Members = slices.Clone(c.Teams[i].Members)
	}
	out.Pools = slices.Clone(c.Pools)
	for i := range out.Pools {
		out.Pools[i].Members = slices.Clone(c.Pools[i].Members)
		out.Pools[i].Fallback = cloneTarget(c.Pools[i].Fallback, 0)
	}
	out.Rules = slices.Clone(c.Rules)
	for i := range out.Rules {
		out.Rules[i].When = json.RawMessage(slices.Clone([]byte(c.Rules[i].When)))
		out.Rules[i].Then = *cloneTarget(&c.Rules[i].Then, 0)
	}
	out.Default = *cloneTarget(&c.Default, 0)
	return out
}

// cloneTarget copies a chain of targets. Past MaxFallbackDepth+1 it stops copying, so that a
// chain of pointers built in a circle by a caller of CompileConfig ends (validation then refuses
// it as too deep).
func cloneTarget(t *Target, depth int) *Target {
	if t == nil || depth > MaxFallbackDepth+1 {
		return t
	}
	out := *t
	out.Fallback = cloneTarget(t.Fallback, depth+1)
	return &out
}
