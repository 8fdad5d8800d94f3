// Package timezone validates IANA time zone names against the tzdata embedded in the binary
// (time/tzdata, P7) and lists them for pickers.
package timezone

//go:generate go run ./gen

import (
	"strings"
	"time"
	_ "time/tzdata" // every binary carries its own tzdata: the same answers on every host

	"github.com/beckonhq/beckon/internal/errs"
)

// Names returns the canonical Area/Location zone names and "UTC", sorted. The slice is shared:
// do not modify it.
func Names() []string { return names }

// Validate returns nil when name is an IANA zone the embedded tzdata knows (aliases such as
// "US/Pacific" included), and an errs.Invalid error about field otherwise. "Local" and the empty
// name are refused: a stored zone must mean the same thing on every server.
func Validate(field, name string) error {
	if name == "" {
		return errs.Field(errs.Invalid, field, "is required (an IANA time zone such as Europe/Berlin)")
	}
	if name == "Local" || len(name) > 64 || strings.ContainsAny(name, " \\") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return errs.Field(errs.Invalid, field, "%q is not an IANA time zone such as Europe/Berlin", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return errs.Field(errs.Invalid, field, "%q is not an IANA time zone such as Europe/Berlin", name)
	}
	return nil
}

// Load returns the location of a zone name that Validate accepted; UTC for anything else.
func Load(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil && name != "Local" {
		return loc
	}
	return time.UTC
}
