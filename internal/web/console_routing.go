package web

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/visitor/geo"
)

// The routing console (SPEC R1–R6, docs/ROUTING.md), for admins: the rules editor with its
// simulate and replay panels (/settings/routing) and the distribution report (/routing/report).
// The server renders each page's frame; its script (internal/web/ui, static/routing.js and
// static/routing_report.js) fills it from the routing API (/api/v1/routing/…) with the session's
// cookie and CSRF token. docs/CONSOLE.md says how admins use them.

// countryOption is a country the simulate form and the rules editor offer.
type countryOption struct{ Code, Name string }

// routingCountries lists every ISO 3166 alpha-2 code routing conditions accept (those
// geo.CountryName knows), by English name.
var routingCountries = sync.OnceValue(func() []countryOption {
	var out []countryOption
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			if name := geo.CountryName(code); name != "" {
				out = append(out, countryOption{Code: code, Name: name})
			}
		}
	}
	slices.SortFunc(out, func(x, y countryOption) int { return strings.Compare(x.Name, y.Name) })
	return out
})

type routingView struct {
	view
	Countries []countryOption
}

type routingReportView struct {
	view
	From, To string // the period's first and last day (YYYY-MM-DD) asked for in the URL; "" for the default
}

// routingAdmin refuses users who are not admins (errs.Forbidden) and servers without routing
// (errs.Unavailable).
func (c *console) routingAdmin(r *http.Request) error {
	if principalOf(r).User.Role != identity.RoleAdmin {
		return errs.E(errs.Forbidden, "only an admin can see and change routing")
	}
	_, err := c.s.router()
	return err
}

// routingPage renders GET /settings/routing: the rules editor, simulate and replay. It returns
// errs.Forbidden for users who are not admins and errs.Unavailable when the server has no
// routing.
func (c *console) routingPage(w http.ResponseWriter, r *http.Request) error {
	if err := c.routingAdmin(r); err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "routing", &routingView{view: view{Title: "Routing", Nav: "routing"}, Countries: routingCountries()})
}

// routingReportPage renders GET /routing/report?from=YYYY-MM-DD&to=YYYY-MM-DD: the distribution
// of routing over a period (the last 30 days unless the URL says otherwise; dates that are not
// dates are ignored). It returns errs.Forbidden for users who are not admins and
// errs.Unavailable when the server has no routing.
func (c *console) routingReportPage(w http.ResponseWriter, r *http.Request) error {
	if err := c.routingAdmin(r); err != nil {
		return err
	}
	v := &routingReportView{view: view{Title: "Routing report", Nav: "routing"}}
	v.From, v.To = reportDay(r.URL.Query().Get("from")), reportDay(r.URL.Query().Get("to"))
	return c.render(w, r, http.StatusOK, "routing_report", v)
}

// reportDay returns s when it is a day written YYYY-MM-DD (what a date input sends), else "".
func reportDay(s string) string {
	if len(s) != len(time.DateOnly) {
		return ""
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return ""
	}
	return s
}
