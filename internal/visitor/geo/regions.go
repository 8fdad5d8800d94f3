package geo

// Sales regions. Beckon assigns every ISO 3166 country to one of the three regions sales teams
// commonly split the world into. The assignment starts from the UN M49 continental regions —
// the Americas are AMER; Europe and Africa are EMEA; Asia and Oceania are APAC — with these
// deliberate changes, because sales teams sell the Middle East and the former Soviet Union from
// EMEA:
//
//   - Western Asia (the Gulf, the Levant, Türkiye, Cyprus, the Caucasus) and Iran are EMEA;
//   - Central Asia (Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan, Uzbekistan) is EMEA;
//   - Russia is EMEA as a whole (M49 counts it in Europe too).
//
// Territories follow M49, that is their geography rather than their sovereign: Greenland,
// Bermuda, the Caribbean islands of European states, the Falklands, South Georgia and Bouvet
// Island are AMER; Guam, the Northern Marianas, American Samoa, the US minor outlying islands
// and the French Pacific are APAC; Réunion, Mayotte, the British Indian Ocean Territory and the
// French Southern Territories are EMEA. Antarctica (AQ) has no region.
const (
	AMER = "AMER"
	EMEA = "EMEA"
	APAC = "APAC"
)

var regionCountries = map[string][]string{
	AMER: {
		"AG", "AI", "AR", "AW", "BB", "BL", "BM", "BO", "BQ", "BR", "BS", "BV", "BZ", "CA", "CL", "CO",
		"CR", "CU", "CW", "DM", "DO", "EC", "FK", "GD", "GF", "GL", "GP", "GS", "GT", "GY", "HN", "HT",
		"JM", "KN", "KY", "LC", "MF", "MQ", "MS", "MX", "NI", "PA", "PE", "PM", "PR", "PY", "SR", "SV",
		"SX", "TC", "TT", "US", "UY", "VC", "VE", "VG", "VI",
	},
	EMEA: {
		// Europe
		"AD", "AL", "AT", "AX", "BA", "BE", "BG", "BY", "CH", "CZ", "DE", "DK", "EE", "ES", "FI", "FO",
		"FR", "GB", "GG", "GI", "GR", "HR", "HU", "IE", "IM", "IS", "IT", "JE", "LI", "LT", "LU", "LV",
		"MC", "MD", "ME", "MK", "MT", "NL", "NO", "PL", "PT", "RO", "RS", "RU", "SE", "SI", "SJ", "SK",
		"SM", "UA", "VA",
		// Middle East and the Caucasus
		"AE", "AM", "AZ", "BH", "CY", "GE", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA",
		"SY", "TR", "YE",
		// Central Asia
		"KG", "KZ", "TJ", "TM", "UZ",
		// Africa
		"AO", "BF", "BI", "BJ", "BW", "CD", "CF", "CG", "CI", "CM", "CV", "DJ", "DZ", "EG", "EH", "ER",
		"ET", "GA", "GH", "GM", "GN", "GQ", "GW", "IO", "KE", "KM", "LR", "LS", "LY", "MA", "MG", "ML",
		"MR", "MU", "MW", "MZ", "NA", "NE", "NG", "RE", "RW", "SC", "SD", "SH", "SL", "SN", "SO", "SS",
		"ST", "SZ", "TD", "TF", "TG", "TN", "TZ", "UG", "YT", "ZA", "ZM", "ZW",
	},
	APAC: {
		// Asia
		"AF", "BD", "BN", "BT", "CN", "HK", "ID", "IN", "JP", "KH", "KP", "KR", "LA", "LK", "MM", "MN",
		"MO", "MV", "MY", "NP", "PH", "PK", "SG", "TH", "TL", "TW", "VN",
		// Oceania
		"AS", "AU", "CC", "CK", "CX", "FJ", "FM", "GU", "HM", "KI", "MH", "MP", "NC", "NF", "NR", "NU",
		"NZ", "PF", "PG", "PN", "PW", "SB", "TK", "TO", "TV", "UM", "VU", "WF", "WS",
	},
}

// countryRegion is regionCountries turned around.
var countryRegion = func() map[string]string {
	m := map[string]string{}
	for r, cs := range regionCountries {
		for _, c := range cs {
			m[c] = r
		}
	}
	return m
}()

// RegionOf returns the sales region ("AMER", "EMEA" or "APAC") of an ISO 3166 alpha-2 country
// code, or "" for Antarctica and for codes that are not countries.
func RegionOf(country string) string { return countryRegion[country] }
