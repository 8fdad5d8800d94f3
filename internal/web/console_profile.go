package web

import (
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/timezone"
)

// home is the landing page after login.
func (c *console) home(w http.ResponseWriter, r *http.Request) error {
	return c.render(w, r, http.StatusOK, "home", &view{Title: "Home", Nav: "home"})
}

// profileForm holds the profile fields as typed, so that a rejected form keeps them.
type profileForm struct {
	FirstName, LastName, JobTitle, Phone, TimeZone string
}

// profileView is the profile page: the profile form, the photo and the password form.
type profileView struct {
	view
	Form        profileForm
	Errs        fieldErrs
	TimeZones   []string
	MinPassword int
	MaxPhoto    int
}

var profileFields = []string{"first_name", "last_name", "job_title", "phone", "time_zone"}

// profilePage renders the profile page; form is nil to show the user's stored profile.
func (c *console) profilePage(w http.ResponseWriter, r *http.Request, status int, form *profileForm, fe fieldErrs, pageErr string) error {
	u := principalOf(r).User
	if form == nil {
		form = &profileForm{FirstName: u.FirstName, LastName: u.LastName, JobTitle: u.JobTitle, Phone: u.Phone, TimeZone: u.TimeZone}
	}
	zones := timezone.Names()
	if form.TimeZone != "" && !slices.Contains(zones, form.TimeZone) {
		// An alias (US/Pacific) or a rejected name stays visible and selected.
		zones = append([]string{form.TimeZone}, zones...)
	}
	v := &profileView{view: view{Title: "Your profile", Nav: "profile", Error: pageErr}, Form: *form, Errs: fe,
		TimeZones: zones, MinPassword: identity.MinPasswordLen, MaxPhoto: identity.MaxPhotoBytes}
	return c.render(w, r, status, "profile", v)
}

func (c *console) profileForm(w http.ResponseWriter, r *http.Request) error {
	return c.profilePage(w, r, http.StatusOK, nil, nil, "")
}

// profile saves the signed-in user's profile.
func (c *console) profile(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	f := profileForm{FirstName: r.PostFormValue("first_name"), LastName: r.PostFormValue("last_name"),
		JobTitle: r.PostFormValue("job_title"), Phone: r.PostFormValue("phone"), TimeZone: r.PostFormValue("time_zone")}
	_, err := c.s.identity.UpdateUser(r.Context(), p.User, p.User.ID, identity.UserPatch{FirstName: &f.FirstName,
		LastName: &f.LastName, JobTitle: &f.JobTitle, Phone: &f.Phone, TimeZone: &f.TimeZone})
	if err != nil {
		status, fe, msg, err := c.formError(r, err, nil, profileFields...)
		if err != nil {
			return err
		}
		return c.profilePage(w, r, status, &f, fe, msg)
	}
	return c.redirectFlash(w, r, "/settings/profile", "profile")
}

// photo stores the signed-in user's profile photo from a multipart form.
func (c *console) photo(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	err := func() error {
		f, _, err := r.FormFile("photo")
		if errors.Is(err, http.ErrMissingFile) {
			return errs.Field(errs.Invalid, "photo", "choose a JPG or PNG file first")
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return errs.Field(errs.TooLarge, "photo", "must be at most 2 MB")
			}
			return errs.Wrap(errs.Malformed, err, "the upload could not be read; try again")
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, identity.MaxPhotoBytes+1))
		if err != nil {
			return err
		}
		return c.s.identity.SetPhoto(r.Context(), p.User, p.User.ID, data)
	}()
	if err != nil {
		status, fe, msg, err := c.formError(r, err, nil, "photo")
		if err != nil {
			return err
		}
		return c.profilePage(w, r, status, nil, fe, msg)
	}
	return c.redirectFlash(w, r, "/settings/profile", "photo")
}

// password changes the signed-in user's password; their other sessions end.
func (c *console) password(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	current, next, confirm := r.PostFormValue("current_password"), r.PostFormValue("new_password"), r.PostFormValue("confirm_password")
	var err error
	if next != confirm && identity.CheckPassword(next, p.User.Email) == nil {
		err = errs.Field(errs.Invalid, "confirm_password", "the two new passwords are different; type the same password twice")
	} else {
		err = c.s.identity.ChangePassword(r.Context(), p.User, p.Session.ID, current, next)
		if err == nil { // the user's other sessions ended
			c.s.userChanged(r.Context(), p.WorkspaceID(), p.User.ID)
		}
	}
	if err != nil {
		status, fe, msg, err := c.formError(r, err, map[string]string{"password": "new_password"},
			"current_password", "new_password", "confirm_password")
		if err != nil {
			return err
		}
		return c.profilePage(w, r, status, nil, fe, msg)
	}
	return c.redirectFlash(w, r, "/settings/profile", "password")
}
