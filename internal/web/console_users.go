package web

import (
	"net/http"

	"github.com/beckonhq/beckon/internal/identity"
)

// inviteForm holds the invitation fields as typed, so that a rejected form keeps them.
type inviteForm struct {
	Email, FirstName, LastName, Role string
}

// usersView is the team page: everyone in the workspace and, for admins, the invitation form
// and the actions of each row.
type usersView struct {
	view
	Users                     []*identity.User
	Roles                     []identity.Role
	Invite                    inviteForm
	Errs                      fieldErrs
	Active, Invited, Inactive int
}

var inviteFields = []string{"email", "first_name", "last_name", "role"}

// usersPage renders the team page with status, the invitation form as typed and any errors.
func (c *console) usersPage(w http.ResponseWriter, r *http.Request, status int, form inviteForm, fe fieldErrs, pageErr string) error {
	p := principalOf(r)
	users, err := c.s.identity.ListUsers(r.Context(), p.WorkspaceID())
	if err != nil {
		return err
	}
	if form.Role == "" {
		form.Role = string(identity.RoleRep)
	}
	v := &usersView{view: view{Title: "Users", Nav: "users", Error: pageErr}, Users: users, Roles: identity.Roles,
		Invite: form, Errs: fe}
	for _, u := range users {
		switch u.Status {
		case "active":
			v.Active++
		case "invited":
			v.Invited++
		default:
			v.Inactive++
		}
	}
	return c.render(w, r, status, "users", v)
}

func (c *console) users(w http.ResponseWriter, r *http.Request) error {
	return c.usersPage(w, r, http.StatusOK, inviteForm{}, nil, "")
}

// userAction runs a change to one user and answers with the team page: after a redirect with a
// flash message when it worked, or at once with the error's status and message when not.
func (c *console) userAction(w http.ResponseWriter, r *http.Request, flash string, do func(actor *identity.User, id string) error) error {
	if err := do(principalOf(r).User, pathID(r, "id")); err != nil {
		status, _, msg, err := c.formError(r, err, nil)
		if err != nil {
			return err
		}
		return c.usersPage(w, r, status, inviteForm{}, nil, msg)
	}
	return c.redirectFlash(w, r, "/users", flash)
}

// invite creates a user and emails them an activation link.
func (c *console) invite(w http.ResponseWriter, r *http.Request) error {
	f := inviteForm{Email: r.PostFormValue("email"), FirstName: r.PostFormValue("first_name"),
		LastName: r.PostFormValue("last_name"), Role: r.PostFormValue("role")}
	_, _, err := c.s.identity.Invite(r.Context(), principalOf(r).User, identity.InviteInput{Email: f.Email,
		Role: f.Role, FirstName: f.FirstName, LastName: f.LastName})
	if err != nil {
		status, fe, msg, err := c.formError(r, err, nil, inviteFields...)
		if err != nil {
			return err
		}
		return c.usersPage(w, r, status, f, fe, msg)
	}
	if c.s.jobs != nil {
		c.s.jobs.Notify()
	}
	return c.redirectFlash(w, r, "/users", "invited")
}

func (c *console) setRole(w http.ResponseWriter, r *http.Request) error {
	role := r.PostFormValue("role")
	return c.userAction(w, r, "role", func(actor *identity.User, id string) error {
		_, err := c.s.identity.UpdateUser(r.Context(), actor, id, identity.UserPatch{Role: &role})
		if err == nil {
			c.s.userChanged(r.Context(), actor.WorkspaceID, id)
		}
		return err
	})
}

func (c *console) deactivate(w http.ResponseWriter, r *http.Request) error {
	return c.userAction(w, r, "deactivated", func(actor *identity.User, id string) error {
		_, err := c.s.identity.Deactivate(r.Context(), actor, id)
		if err == nil {
			c.s.userChanged(r.Context(), actor.WorkspaceID, id)
		}
		return err
	})
}

func (c *console) reactivate(w http.ResponseWriter, r *http.Request) error {
	return c.userAction(w, r, "reactivated", func(actor *identity.User, id string) error {
		_, err := c.s.identity.Reactivate(r.Context(), actor, id)
		return err
	})
}

func (c *console) resendInvite(w http.ResponseWriter, r *http.Request) error {
	return c.userAction(w, r, "resent", func(actor *identity.User, id string) error {
		_, err := c.s.identity.ResendInvite(r.Context(), actor, id)
		if err == nil && c.s.jobs != nil {
			c.s.jobs.Notify()
		}
		return err
	})
}

// userPhoto serves a colleague's photo.
func (c *console) userPhoto(w http.ResponseWriter, r *http.Request) error {
	return c.s.servePhoto(w, r, principalOf(r).WorkspaceID(), pathID(r, "id"))
}
