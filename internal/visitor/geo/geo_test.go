package geo_test

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/beckonhq/beckon/internal/timezone"
	"github.com/beckonhq/beckon/internal/visitor/geo"
)

func TestFromZone(t *testing.T) {
	for _, c := range []struct{ zone, country, region string }{
		{"Asia/Kolkata", "IN", "APAC"},
		{"America/St_Johns", "CA", "AMER"},
		{"Europe/Berlin", "DE", "EMEA"},
		{"Australia/Eucla", "AU", "APAC"},
		{"UTC", "", ""},
		{"Etc/GMT+5", "", ""},
		{"", "", ""},
		{"Mars/Olympus_Mons", "", ""},
		// Backward links resolved to the zone they point to.
		{"Asia/Calcutta", "IN", "APAC"},
		{"US/Pacific", "US", "AMER"},
		{"Europe/Kiev", "UA", "EMEA"},
		{"Japan", "JP", "APAC"},
		{"America/Buenos_Aires", "AR", "AMER"},
		// zone.tab names the alias itself: Büsingen is German although its clocks are Zurich's.
		{"Europe/Busingen", "DE", "EMEA"},
		// Links to another country's zone for equal clocks keep their own country.
		{"Iceland", "IS", "EMEA"},
		{"America/Virgin", "VI", "AMER"},
		// POSIX-style names are no place.
		{"EST5EDT", "", ""},
		{"CET", "", ""},
		// The Middle East and Central Asia are sold from EMEA; Antarctica has no region.
		{"Asia/Dubai", "AE", "EMEA"},
		{"Asia/Almaty", "KZ", "EMEA"},
		{"Asia/Karachi", "PK", "APAC"},
		{"America/Nuuk", "GL", "AMER"},
		{"Antarctica/Troll", "AQ", ""},
	} {
		if got := geo.FromZone(c.zone); got.Country != c.country || got.Region != c.region {
			t.Errorf("FromZone(%q) = %+v, want %s %s", c.zone, got, c.country, c.region)
		}
	}
}

// TestEveryZoneHasACountry checks the generated table against the zone names Beckon accepts
// (Go's embedded tzdata): each has a country, except those that name no place.
func TestEveryZoneHasACountry(t *testing.T) {
	for _, z := range timezone.Names() {
		if z == "UTC" {
			continue
		}
		if geo.CountryOfZone(z) == "" {
			t.Errorf("%s has no country", z)
		}
	}
}

// TestRegionsCoverEveryCountry checks that the region table assigns every ISO 3166 country (but
// Antarctica) exactly one region, and names nothing else.
func TestRegionsCoverEveryCountry(t *testing.T) {
	n := 0
	for c := 'A'; c <= 'Z'; c++ {
		for d := 'A'; d <= 'Z'; d++ {
			code := string([]rune{c, d})
			name, region := geo.CountryName(code), geo.RegionOf(code)
			switch {
			case name == "" && region != "":
				t.Errorf("%s is no country but has region %s", code, region)
			case name != "" && region == "" && code != "AQ":
				t.Errorf("%s (%s) has no region", code, name)
			case name != "":
				n++
			}
			if region != "" && !slices.Contains([]string{geo.AMER, geo.EMEA, geo.APAC}, region) {
				t.Errorf("%s: region %q", code, region)
			}
		}
	}
	if n != 249 {
		t.Errorf("%d countries, want the 249 of ISO 3166", n)
	}
}

// testDB builds a small MaxMind-format database: 81.2.69.0/24 in GB (an England subdivision, as
// in GeoIP2-City), 2001:db8::/32 registered in JP with no country, and 192.0.2.0/24 in a
// record whose country code is not ISO 3166.
func testDB(t *testing.T) []byte {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	insert := func(cidr string, rec mmdbtype.Map) {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	insert("81.2.69.0/24", mmdbtype.Map{
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String("GB")},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("ENG")}},
	})
	insert("2001:db8::/32", mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("JP")}})
	insert("192.0.2.0/24", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("EU")}})
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLocateByIP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.mmdb")
	if err := os.WriteFile(path, testDB(t), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.HasIPDatabase() {
		t.Fatal("no IP database")
	}
	for _, c := range []struct {
		ip, zone        string
		country, region string
	}{
		{"81.2.69.142", "America/New_York", "GB", "EMEA"}, // the IP wins over the zone
		{"::ffff:81.2.69.1", "", "GB", "EMEA"},            // IPv4-mapped
		{"2001:db8::1", "Europe/Berlin", "JP", "APAC"},    // registered country when no country
		{"192.0.2.7", "Europe/Berlin", "DE", "EMEA"},      // not an ISO code: fall back to the zone
		{"10.1.2.3", "Asia/Kolkata", "IN", "APAC"},        // not in the database
		{"127.0.0.1", "", "", ""},                         // nowhere
		{"", "Australia/Eucla", "AU", "APAC"},             // no address
		{"203.0.113.9", "America/St_Johns", "CA", "AMER"}, // not in the database
	} {
		var ip netip.Addr
		if c.ip != "" {
			ip = netip.MustParseAddr(c.ip)
		}
		if got := l.Locate(ip, c.zone); got.Country != c.country || got.Region != c.region {
			t.Errorf("Locate(%s, %s) = %+v, want %s %s", c.ip, c.zone, got, c.country, c.region)
		}
	}
}

func TestLocateWithoutDatabase(t *testing.T) {
	for _, l := range []*geo.Locator{nil, mustOpen(t, "")} {
		if l.HasIPDatabase() {
			t.Fatal("has a database")
		}
		if got := l.Locate(netip.MustParseAddr("81.2.69.142"), "Europe/Berlin"); got != (geo.Location{Country: "DE", Region: "EMEA"}) {
			t.Errorf("Locate = %+v", got)
		}
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestOpenRefusesGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.mmdb")
	os.WriteFile(path, []byte("not a database"), 0o600)
	if _, err := geo.Open(path); err == nil {
		t.Error("opened garbage")
	}
	if _, err := geo.Open(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil {
		t.Error("opened a missing file")
	}
	if _, err := geo.OpenBytes([]byte("nope")); err == nil {
		t.Error("opened garbage bytes")
	}
}

func mustOpen(t *testing.T, path string) *geo.Locator {
	l, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
