// Package geo places a visitor: the ISO 3166 country and the sales region (AMER, EMEA, APAC) of a
// browser's IANA time zone, from a table generated from the tz database (SPEC V2), or of the
// client's IP address when the operator supplies a MaxMind-format database (BECKON_GEOIP_DB),
// which then wins over the time zone.
package geo

//go:generate go run ./gen

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is where a visitor appears to be. Both fields are "" when unknown.
type Location struct {
	Country string // ISO 3166 alpha-2, upper case, e.g. "DE"
	Region  string // "AMER", "EMEA", "APAC"
}

// CountryOfZone returns the ISO 3166 alpha-2 country of an IANA time zone name, aliases included
// (Asia/Calcutta → IN, US/Pacific → US), or "" for zones of no country (UTC, Etc/GMT+5) and
// unknown names.
func CountryOfZone(zone string) string { return zoneCountry[zone] }

// FromZone returns the location of a browser time zone.
func FromZone(zone string) Location {
	c := CountryOfZone(zone)
	return Location{Country: c, Region: RegionOf(c)}
}

// CountryName returns the English short name of an ISO 3166 alpha-2 code, or "".
func CountryName(code string) string { return countryNames[code] }

// Locator locates visitors by IP address (when it has a MaxMind-format database) and otherwise by
// time zone. A nil *Locator locates by time zone only. It is safe for concurrent use.
type Locator struct {
	mm *maxminddb.Reader
}

// Open returns a Locator reading the MaxMind-format database (GeoLite2-Country, GeoIP2-City, or
// any database whose records hold country.iso_code) at path; an empty path gives a Locator that
// uses time zones only. It fails when the file cannot be opened or is not such a database.
func Open(path string) (*Locator, error) {
	if path == "" {
		return &Locator{}, nil
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	return &Locator{mm: r}, nil
}

// OpenBytes is Open for a database already in memory.
func OpenBytes(b []byte) (*Locator, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geo: open database: %w", err)
	}
	return &Locator{mm: r}, nil
}

// HasIPDatabase reports whether l locates by IP address.
func (l *Locator) HasIPDatabase() bool { return l != nil && l.mm != nil }

// Close releases the IP database, if any.
func (l *Locator) Close() error {
	if l == nil || l.mm == nil {
		return nil
	}
	return l.mm.Close()
}

type ipRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// CountryOfIP returns the country of ip in the IP database, or "" when there is no database, the
// address is not in it (private and loopback addresses never are), or its record names no
// ISO 3166 country. The country where the address is used wins over the one where it is
// registered.
func (l *Locator) CountryOfIP(ip netip.Addr) string {
	if !l.HasIPDatabase() || !ip.IsValid() {
		return ""
	}
	var rec ipRecord
	if err := l.mm.Lookup(ip.Unmap()).Decode(&rec); err != nil {
		return ""
	}
	for _, c := range []string{rec.Country.ISOCode, rec.RegisteredCountry.ISOCode} {
		if _, ok := countryNames[c]; ok {
			return c
		}
	}
	return ""
}

// Locate returns the location of a visitor: by IP address when l has a database that knows ip,
// else by the browser's time zone.
func (l *Locator) Locate(ip netip.Addr, zone string) Location {
	if c := l.CountryOfIP(ip); c != "" {
		return Location{Country: c, Region: RegionOf(c)}
	}
	return FromZone(zone)
}
