//go:build pprof

package main

// Built with -tags pprof, beckon serves net/http/pprof on BECKON_PPROF_ADDR (default
// 127.0.0.1:6060) for profiling under load (docs/PERFORMANCE.md). Release builds leave it out.

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("BECKON_PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	go func() { _ = http.ListenAndServe(addr, nil) }()
}
