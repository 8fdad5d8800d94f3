// Package version tells which Beckon this is: the app version, the Go toolchain that built it and
// the tzdata release embedded in it (P6).
package version

import (
	"runtime"
	"runtime/debug"

	"github.com/beckonhq/beckon/internal/timezone"
)

// App is the release version, set at build time with
// -ldflags "-X github.com/beckonhq/beckon/internal/version.App=v1.2.3"; otherwise it is derived
// from the module and VCS information Go records in the binary.
var App = ""

// Info is the version triple shown by `beckon version` and /healthz.
type Info struct {
	App    string `json:"version"`
	Go     string `json:"go"`
	TZData string `json:"tzdata"`
}

// Get returns this binary's version information.
func Get() Info {
	app := App
	if app == "" {
		app = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok {
			if v := bi.Main.Version; v != "" && v != "(devel)" {
				app = v
			}
			var rev, dirty string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					if s.Value == "true" {
						dirty = "-dirty"
					}
				}
			}
			if app == "dev" && len(rev) >= 12 {
				app = "dev-" + rev[:12] + dirty
			}
		}
	}
	return Info{App: app, Go: runtime.Version(), TZData: timezone.TZDataVersion}
}
