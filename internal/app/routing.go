package app

import (
	"context"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/routing"
	"github.com/beckonhq/beckon/internal/workspace"
)

// routingEnv is what routing configurations are checked against: the workspace's visitor fields
// and users.
func (a *App) routingEnv(ctx context.Context, wsID string) (routing.Env, error) {
	defs, err := a.Fields.List(ctx, wsID)
	if err != nil {
		return routing.Env{}, err
	}
	users, err := a.Identity.ListUsers(ctx, wsID)
	if err != nil {
		return routing.Env{}, err
	}
	env := routing.Env{Users: make(map[string]routing.UserInfo, len(users))}
	for _, d := range defs {
		env.Fields = append(env.Fields, routing.FieldDef{Key: d.Key, Label: d.Label, Type: string(d.Type), Options: d.Options})
	}
	for _, u := range users {
		env.Users[u.ID] = routing.UserInfo{Name: u.Name(), Role: string(u.Role), Active: u.Active}
	}
	return env, nil
}

// routingReps is every user's state for a decision: role, activity, presence and open load.
func (a *App) routingReps(ctx context.Context, wsID string) (map[string]routing.RepState, error) {
	users, err := a.Identity.ListUsers(ctx, wsID)
	if err != nil {
		return nil, err
	}
	states, err := a.Presence.List(ctx, wsID)
	if err != nil {
		return nil, err
	}
	loads, err := a.Chat.Loads(ctx, wsID)
	if err != nil {
		return nil, err
	}
	status := make(map[string]string, len(states))
	for _, st := range states {
		status[st.UserID] = st.Status
	}
	out := make(map[string]routing.RepState, len(users))
	for _, u := range users {
		st := status[u.ID]
		if st == "" {
			st = routing.StatusOffline
		}
		out[u.ID] = routing.RepState{Name: u.Name(), Status: st, Load: loads[u.ID], Active: u.Active, Role: string(u.Role)}
	}
	return out, nil
}

// OwnerField is the visitor field that names the visitor's account owner (a user's email
// address or id) until a CRM connector fills it from the CRM.
const OwnerField = "account_owner"

// routingVisitor is what routing knows of a visitor: fields, current session and page, place,
// target account, account owner, previous rep.
func (a *App) routingVisitor(ctx context.Context, wsID, visitorID string) (*routing.Visitor, string, error) {
	vals, err := a.Fields.EffectiveValues(ctx, wsID, []string{visitorID})
	if err != nil {
		return nil, "", err
	}
	v := &routing.Visitor{Fields: vals[visitorID]}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	sessions, err := a.Visitors.Sessions(ctx, wsID, visitorID, 2)
	if err != nil {
		return nil, "", err
	}
	if len(sessions) > 0 {
		se := sessions[0]
		v.Returning = len(sessions) > 1
		v.Country, v.Region = se.Country, se.Region
		v.Session = routing.Session{Referrer: se.Referrer, LandingURL: se.LandingURL, UTMSource: se.Source, UTMMedium: se.Medium,
			UTMCampaign: se.Name, UTMTerm: se.Term, UTMContent: se.Content, Device: se.Device, Language: se.Language}
		pages, err := a.Visitors.PageViews(ctx, wsID, se.ID, 1)
		if err != nil {
			return nil, "", err
		}
		if len(pages) > 0 {
			v.Session.PageURL = pages[0].URL
		} else {
			v.Session.PageURL = se.LandingURL
		}
	}
	if c := v.Fields["country"]; v.Country == "" && len(c) == 2 {
		v.Country = strings.ToUpper(c)
	}
	ws, err := a.Workspaces.Cached(ctx, wsID)
	if err != nil {
		return nil, "", err
	}
	v.Target = workspace.IsTargetAccount(ws.Settings.TargetAccounts, v.Fields["email"], v.Fields["website"], v.Fields["company"])
	if v.PreviousRep, err = a.Chat.PreviousRep(ctx, wsID, visitorID, ""); err != nil {
		return nil, "", err
	}
	owner, err := a.ownerOf(ctx, wsID, strings.TrimSpace(v.Fields[OwnerField]))
	if err != nil {
		return nil, "", err
	}
	v.OwnerPresent = owner != ""
	return v, owner, nil
}

// ownerOf returns the id of the user an account-owner value names — a user id, or an email
// address ignoring case — or "" when it names nobody of the workspace.
func (a *App) ownerOf(ctx context.Context, wsID, o string) (string, error) {
	var u *identity.User
	var err error
	switch {
	case o == "":
		return "", nil
	case strings.HasPrefix(o, "usr_"):
		u, err = a.Identity.GetUser(ctx, wsID, o)
	default:
		u, err = a.Identity.UserByEmail(ctx, wsID, o)
	}
	if errs.Is(err, errs.NotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return u.ID, nil
}
