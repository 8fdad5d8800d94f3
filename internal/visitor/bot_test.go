package visitor_test

import (
	"testing"

	"github.com/beckonhq/beckon/internal/visitor"
)

const (
	uaChromeDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaChromeAndroid = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	uaSafariIOS     = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	uaIPad          = "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	uaAndroidTablet = "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxMac    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaCubot         = "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
	uaGooglebot     = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaBingbot       = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
	uaHeadless      = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
	uaLighthouse    = "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse"
	uaCurl          = "curl/8.5.0"
)

func TestIsBot(t *testing.T) {
	for _, c := range []struct {
		name      string
		ua        string
		webdriver bool
		bot       bool
	}{
		{"chrome desktop", uaChromeDesktop, false, false},
		{"chrome android", uaChromeAndroid, false, false},
		{"safari ios", uaSafariIOS, false, false},
		{"firefox mac", uaFirefoxMac, false, false},
		{"cubot phone", uaCubot, false, false},
		{"webdriver", uaChromeDesktop, true, true},
		{"googlebot", uaGooglebot, false, true},
		{"bingbot", uaBingbot, false, true},
		{"headless chrome", uaHeadless, false, true},
		{"lighthouse", uaLighthouse, false, true},
		{"curl", uaCurl, false, true},
		{"wget", "Wget/1.21.4", false, true},
		{"python", "python-requests/2.32.3", false, true},
		{"go", "Go-http-client/2.0", false, true},
		{"java", "Java/17.0.2", false, true},
		{"slurp", "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", false, true},
		{"facebook preview", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", false, true},
		{"pingdom", "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", false, true},
		{"empty", "", false, true},
		{"blank", "   ", false, true},
	} {
		if got := visitor.IsBot(c.ua, c.webdriver); got != c.bot {
			t.Errorf("%s: IsBot = %v, want %v", c.name, got, c.bot)
		}
	}
}

func TestDeviceClass(t *testing.T) {
	for ua, want := range map[string]string{
		uaChromeDesktop: "desktop", uaFirefoxMac: "desktop", uaChromeAndroid: "mobile", uaSafariIOS: "mobile",
		uaCubot: "mobile", uaIPad: "tablet", uaAndroidTablet: "tablet", "": "",
		"Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/537.36 (KHTML, like Gecko) Silk/3.68 like Chrome/39.0.2171.93 Safari/537.36": "tablet",
	} {
		if got := visitor.DeviceClass(ua); got != want {
			t.Errorf("DeviceClass(%.60q) = %q, want %q", ua, got, want)
		}
	}
}
