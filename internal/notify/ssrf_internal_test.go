package notify

import (
	"net/netip"
	"testing"
)

func TestPrivateAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "192.168.0.1": true, "169.254.169.254": true, "0.0.0.0": true,
		"100.64.0.1": true, "::1": true, "::": true, "::ffff:127.0.0.1": true, "::7f00:1": true, "fe80::1": true,
		"fc00::1": true, "2002:7f00:1::": true, "2001:0:4136:e378::1": true, "64:ff9b::7f00:1": true,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700:4700::1111": false, "2a00:1450:4001:80b::200e": false,
	} {
		if got := privateAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("privateAddr(%s) = %v, want %v", s, got, want)
		}
	}
}
