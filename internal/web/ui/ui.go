// Package ui holds the TypeScript of the console's scripted pages in src/: the inbox (/inbox),
// Live View (/live), the routing rules editor (/settings/routing) and the routing report
// (/routing/report). go generate bundles each page's entry point with esbuild's Go API (see
// build/) into internal/web/static/, where the console serves it like every other static file;
// the built files are committed, and TestStaticIsCurrent proves they match a fresh build. How
// people use the pages is in docs/CONSOLE.md; the socket they speak is docs/REALTIME.md.
package ui

//go:generate go run ./gen
