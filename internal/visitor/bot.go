package visitor

import "strings"

// botTokens are lower-case substrings of the user agents of crawlers, monitors, link previewers,
// HTTP libraries and automated browsers.
var botTokens = []string{
	"bot", "crawl", "spider", "slurp", "lighthouse", "pagespeed", "gtmetrix", "pingdom", "uptime",
	"statuscake", "site24x7", "newrelicpinger", "curl", "wget", "httpie", "python-requests", "python-urllib",
	"aiohttp", "httpx", "go-http-client", "java/", "okhttp", "apache-httpclient", "libwww", "lwp::",
	"node-fetch", "axios", "undici", "scrapy", "phantomjs", "puppeteer", "playwright", "selenium",
	"webdriver", "mediapartners-google", "google-inspectiontool", "feedfetcher", "facebookexternalhit",
	"embedly", "whatsapp", "preview", "archiver", "ia_archiver", "validator", "scanner", "zgrab",
	"masscan", "nmap", "nikto", "sqlmap",
}

// headlessTokens mark headless browsers: Chrome's "HeadlessChrome/…" and its kin.
var headlessTokens = []string{"headless"}

// notBots are substrings that contain a bot token but name a real device or browser.
var notBots = []string{"cubot"} // CUBOT phones: "Android 9; CUBOT X19"

// IsBot reports whether a request comes from an obvious bot (SPEC V7): an empty user agent, one
// naming a crawler, monitor, HTTP library or headless browser (Googlebot, curl, HeadlessChrome,
// Lighthouse, python-requests, …), or a browser driven by automation (navigator.webdriver true).
// It errs towards counting people: a bot that copies a browser's user agent exactly is not
// caught here.
func IsBot(userAgent string, webdriver bool) bool { return isBot(userAgent, webdriver, false) }

// isBot is IsBot that, with allowHeadless, lets headless and automated browsers through (Beckon's
// own browser tests), but still refuses crawlers and tools.
func isBot(userAgent string, webdriver, allowHeadless bool) bool {
	ua := strings.ToLower(strings.TrimSpace(userAgent))
	if ua == "" {
		return true
	}
	if webdriver && !allowHeadless {
		return true
	}
	for _, n := range notBots {
		ua = strings.ReplaceAll(ua, n, "")
	}
	for _, t := range botTokens {
		if strings.Contains(ua, t) {
			return true
		}
	}
	if !allowHeadless {
		for _, t := range headlessTokens {
			if strings.Contains(ua, t) {
				return true
			}
		}
	}
	return false
}

// Device classes of a session.
const (
	Desktop = "desktop"
	Mobile  = "mobile"
	Tablet  = "tablet"
)

// DeviceClass returns the class of device a user agent names: "tablet" (iPad, Android tablets,
// Kindle), "mobile" (phones), or "desktop" (everything else, including iPads that present
// themselves as Macs, which no user agent can tell apart). An empty user agent gives "".
func DeviceClass(userAgent string) string {
	ua := strings.ToLower(userAgent)
	switch {
	case strings.TrimSpace(ua) == "":
		return ""
	case strings.Contains(ua, "ipad"), strings.Contains(ua, "tablet"), strings.Contains(ua, "kindle"),
		strings.Contains(ua, "silk/"), strings.Contains(ua, "playbook"),
		strings.Contains(ua, "android") && !strings.Contains(ua, "mobile"):
		return Tablet
	case strings.Contains(ua, "mobi"), strings.Contains(ua, "iphone"), strings.Contains(ua, "ipod"),
		strings.Contains(ua, "android"), strings.Contains(ua, "windows phone"), strings.Contains(ua, "opera mini"),
		strings.Contains(ua, "blackberry"):
		return Mobile
	default:
		return Desktop
	}
}
