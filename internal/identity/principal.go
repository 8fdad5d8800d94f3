package identity

// Principal is who makes a request: a user, through a console session or an API token.
type Principal struct {
	User    *User
	Session *Session // set for console sessions
	Token   *Token   // set for API tokens
}

// WorkspaceID is the workspace every query of this request is scoped to.
func (p *Principal) WorkspaceID() string { return p.User.WorkspaceID }

// Can reports whether the principal holds scope s: the user's role must grant it and, for an API
// token, so must the token's scopes (a token never exceeds its user's current role).
func (p *Principal) Can(s Scope) bool {
	if !RoleAllows(p.User.Role, s) {
		return false
	}
	return p.Token == nil || scopesAllow(p.Token.Scopes, s)
}
