package identity

import (
	"slices"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
)

// Role is what a user may do in a workspace.
type Role string

const (
	RoleAdmin        Role = "admin"         // everything, including settings and users
	RoleRep          Role = "rep"           // chats, meetings, visitors
	RoleMeetingsOnly Role = "meetings_only" // booked for meetings; never receives chats
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleRep, RoleMeetingsOnly}

// ParseRole returns the role named s, or errs.Invalid about field "role".
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", errs.Field(errs.Invalid, "role", "%q is not a role: use admin, rep or meetings_only", s)
}

// Scope is one permission of an API token or a role. Resource scopes are "<resource>:read" and
// "<resource>:write"; write implies read.
type Scope string

// Every scope the API knows. Later resources add theirs here.
const (
	ScopeUsersRead      Scope = "users:read"
	ScopeUsersWrite     Scope = "users:write"
	ScopeWorkspaceRead  Scope = "workspace:read"
	ScopeWorkspaceWrite Scope = "workspace:write"
	ScopeTokensRead     Scope = "tokens:read"
	ScopeTokensWrite    Scope = "tokens:write"
	ScopeJobsRead       Scope = "jobs:read"
	ScopeJobsWrite      Scope = "jobs:write"
	ScopeProfileWrite   Scope = "profile:write" // change one's own profile and photo
	ScopeFieldsRead     Scope = "fields:read"   // visitor field definitions
	ScopeFieldsWrite    Scope = "fields:write"  // create and change custom fields and field rules
	// Conversations: read them and their messages; write: send, accept, transfer, invite, close,
	// reopen, email transcripts, start a conversation with a visitor.
	ScopeConversationsRead  Scope = "conversations:read"
	ScopeConversationsWrite Scope = "conversations:write"
	ScopeVisitorsRead       Scope = "visitors:read" // Live View, Visitor 360
	// Team channels and outbound webhooks (N3): admins only.
	ScopeChannelsRead  Scope = "channels:read"
	ScopeChannelsWrite Scope = "channels:write"
	// Routing (R1–R6): read the configuration, simulate, replay and report; write: save the
	// draft and publish. Admins only.
	ScopeRoutingRead  Scope = "routing:read"
	ScopeRoutingWrite Scope = "routing:write"
	// Email (E1–E4): read the address policy, suppressions, unsubscribes, the history of sent
	// email and the counts of refused submissions; write: change the policy and lists, add and
	// remove unsubscribes. Admins only. (Validating an address needs no scope.)
	ScopeEmailRead  Scope = "email:read"
	ScopeEmailWrite Scope = "email:write"
)

// AllScopes lists every scope.
var AllScopes = []Scope{ScopeUsersRead, ScopeUsersWrite, ScopeWorkspaceRead, ScopeWorkspaceWrite,
	ScopeTokensRead, ScopeTokensWrite, ScopeJobsRead, ScopeJobsWrite, ScopeProfileWrite, ScopeFieldsRead, ScopeFieldsWrite,
	ScopeConversationsRead, ScopeConversationsWrite, ScopeVisitorsRead, ScopeChannelsRead, ScopeChannelsWrite,
	ScopeRoutingRead, ScopeRoutingWrite, ScopeEmailRead, ScopeEmailWrite}

// roleScopes is what each role may do. A rep manages their own profile and tokens (the handlers
// check ownership) and reads colleagues and the workspace.
var roleScopes = map[Role][]Scope{
	RoleAdmin: AllScopes,
	RoleRep: {ScopeUsersRead, ScopeWorkspaceRead, ScopeTokensRead, ScopeTokensWrite, ScopeProfileWrite, ScopeFieldsRead,
		ScopeConversationsRead, ScopeConversationsWrite, ScopeVisitorsRead},
	RoleMeetingsOnly: {ScopeUsersRead, ScopeWorkspaceRead, ScopeTokensRead, ScopeTokensWrite, ScopeProfileWrite, ScopeFieldsRead},
}

// RoleAllows reports whether role r grants scope s (a write scope grants its read).
func RoleAllows(r Role, s Scope) bool { return scopesAllow(roleScopes[r], s) }

func scopesAllow(have []Scope, s Scope) bool {
	if slices.Contains(have, s) {
		return true
	}
	if s == ScopeProfileWrite && slices.Contains(have, ScopeUsersWrite) {
		return true // who may change everyone's profile may change their own
	}
	if res, ok := strings.CutSuffix(string(s), ":read"); ok {
		return slices.Contains(have, Scope(res+":write"))
	}
	return false
}

// ParseScopes checks a list of scope names, removes duplicates and returns them sorted.
// It returns errs.Invalid about field "scopes" for an unknown or empty list.
func ParseScopes(in []string) ([]Scope, error) {
	if len(in) == 0 {
		return nil, errs.Field(errs.Invalid, "scopes", "at least one scope is required, e.g. users:read")
	}
	var out []Scope
	for _, s := range in {
		sc := Scope(strings.TrimSpace(s))
		if !slices.Contains(AllScopes, sc) {
			return nil, errs.Field(errs.Invalid, "scopes", "%q is not a scope", s)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	slices.Sort(out)
	return out, nil
}
