package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/timezone"
)

// loginView is the login page: the email and password form, or, when that email and password
// fit several workspaces, the second step that asks which one.
type loginView struct {
	view
	Email    string
	Next     string
	Password string                     // carried to the second step only
	Choices  []identity.WorkspaceChoice // the second step's workspaces
}

// loginForm shows the login page, or goes straight on when the browser is logged in already.
func (c *console) loginForm(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if p, err := c.s.authenticate(r); err == nil && p != nil && p.Session != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	return c.render(w, r, http.StatusOK, "login", &loginView{view: view{Title: "Log in"}, Next: next})
}

// login checks an email and password and opens a session. Wrong credentials get one message
// whatever was wrong, so the page does not tell whether an account exists.
func (c *console) login(w http.ResponseWriter, r *http.Request) error {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	var sess *identity.Session
	var token string
	err := c.guestLimit(r)
	if err == nil {
		sess, token, err = c.s.identity.Login(r.Context(), identity.LoginInput{Email: email, Password: password,
			WorkspaceID: r.PostFormValue("workspace_id"), UserAgent: r.UserAgent(), IP: c.s.clientIP(r)})
	}
	v := &loginView{view: view{Title: "Log in"}, Email: email, Next: next}
	var ambiguous *identity.AmbiguousLoginError
	switch {
	case errors.As(err, &ambiguous):
		v.Title, v.Password, v.Choices = "Choose a workspace", password, ambiguous.Choices
		return c.render(w, r, http.StatusOK, "login", v)
	case errs.Is(err, errs.Unauthenticated):
		v.Error = "Wrong email or password."
		return c.render(w, r, http.StatusUnauthorized, "login", v)
	case errs.Is(err, errs.TooMany):
		e := errs.As(err)
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
		}
		v.Error = sentence(e.Message)
		return c.render(w, r, http.StatusTooManyRequests, "login", v)
	case err != nil:
		return err
	}
	c.s.setSessionCookie(w, token, sess.ExpiresAt)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// logout ends the session of this browser.
func (c *console) logout(w http.ResponseWriter, r *http.Request) error {
	if ck, err := r.Cookie(c.s.sessionCookie()); err == nil && ck.Value != "" {
		if err := c.s.identity.Logout(r.Context(), ck.Value); err != nil {
			return err
		}
		if p := principalOf(r); p != nil {
			c.s.userChanged(r.Context(), p.WorkspaceID(), p.User.ID)
		}
	}
	c.s.setSessionCookie(w, "", time.Time{})
	return c.redirectFlash(w, r, "/login", "logged_out")
}

// activateView is the page of an activation link: set a password to join, or why the link
// cannot be used (Problem).
type activateView struct {
	view
	Invitation *identity.Invitation
	Expires    string
	Errs       fieldErrs
	MinLen     int
	Problem    string
}

func (c *console) activatePage(w http.ResponseWriter, r *http.Request, status int, inv *identity.Invitation, fe fieldErrs, pageErr string) error {
	v := &activateView{view: view{Title: "Activate your account", Error: pageErr}, Invitation: inv, Errs: fe, MinLen: identity.MinPasswordLen}
	if inv != nil {
		v.Title = "Join " + inv.WorkspaceName
		v.Expires = inv.ExpiresAt.In(timezone.Load(inv.User.TimeZone)).Format("Monday 2 January 2006, 15:04 MST")
	}
	return c.render(w, r, status, "activate", v)
}

// activationProblem answers a link that cannot be used (unknown, used, replaced or expired) with
// a page that says so kindly, or the error page for anything unexpected.
func (c *console) activationProblem(w http.ResponseWriter, r *http.Request, err error) error {
	e := errs.As(err)
	if e == nil || (e.Kind != errs.NotFound && e.Kind != errs.Conflict) {
		return err
	}
	status, body := c.s.classify(r, err)
	v := &activateView{view: view{Title: "This link can’t be used"}, Problem: sentence(body.Message)}
	return c.render(w, r, status, "activate", v)
}

// activateForm shows the page of an activation link.
func (c *console) activateForm(w http.ResponseWriter, r *http.Request) error {
	inv, err := c.s.identity.InvitationByToken(r.Context(), r.PathValue("token"))
	if err != nil {
		return c.activationProblem(w, r, err)
	}
	return c.activatePage(w, r, http.StatusOK, inv, nil, "")
}

// guestLimit spends one of the client IP's guest attempts (logins, activations): guessing from
// one address across many emails is slowed down, on top of the lockout per email. It returns
// errs.TooMany with RetryAfter when the address has none left.
func (c *console) guestLimit(r *http.Request) error {
	ok, wait := c.guests.Allow(limitKey(c.s.clientIP(r)))
	if ok {
		return nil
	}
	e := errs.E(errs.TooMany, "too many attempts from your network; try again in %s", wait.Round(time.Second)+time.Second)
	e.RetryAfter = int(wait.Seconds()) + 1
	return e
}

// activate sets the invited user's password and logs them in.
func (c *console) activate(w http.ResponseWriter, r *http.Request) error {
	if err := c.guestLimit(r); err != nil {
		return err
	}
	token := r.PathValue("token")
	inv, err := c.s.identity.InvitationByToken(r.Context(), token)
	if err != nil {
		return c.activationProblem(w, r, err)
	}
	password, confirm := r.PostFormValue("password"), r.PostFormValue("confirm_password")
	if err := identity.CheckPassword(password, inv.User.Email); err != nil {
		status, fe, msg, err := c.formError(r, err, nil, "password")
		if err != nil {
			return err
		}
		return c.activatePage(w, r, status, inv, fe, msg)
	}
	if password != confirm {
		fe := fieldErrs{"confirm_password": "The two passwords are different. Type the same password twice."}
		return c.activatePage(w, r, http.StatusUnprocessableEntity, inv, fe, "Please correct the highlighted field.")
	}
	u, err := c.s.identity.Activate(r.Context(), token, password)
	if errs.Is(err, errs.Invalid) {
		status, fe, msg, err := c.formError(r, err, nil, "password")
		if err != nil {
			return err
		}
		return c.activatePage(w, r, status, inv, fe, msg)
	}
	if err != nil {
		return c.activationProblem(w, r, err)
	}
	sess, tok, err := c.s.identity.CreateSession(r.Context(), u, r.UserAgent(), c.s.clientIP(r))
	if err != nil {
		return err
	}
	c.s.setSessionCookie(w, tok, sess.ExpiresAt)
	return c.redirectFlash(w, r, "/", "welcome")
}
