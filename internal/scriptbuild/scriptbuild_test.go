package scriptbuild

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evanw/esbuild/pkg/api"
)

func TestBundle(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		src    string
		define map[string]string
		want   []string // substrings of the output
		err    string   // substring of the error; "" for none
	}{
		{name: "script", file: "a.ts", src: "const greeting: string = 'hé';\nconsole.log(greeting + __N__);\n",
			define: map[string]string{"__N__": "42"}, want: []string{"(()=>{", `\xE9`, "42"}},
		{name: "stylesheet", file: "a.css", src: "body {\n  color: red;\n}\n", want: []string{"body{color:red}"}},
		{name: "syntax error", file: "a.ts", src: "let x = ;\n", err: "esbuild a.ts:\n"},
		{name: "warning is an error", file: "a.ts", src: "console.log({a: 1, a: 2});\n", err: "esbuild a.ts (warnings are errors here):\n"},
		{name: "missing import", file: "a.ts", src: "import {x} from './nope';\nconsole.log(x);\n", err: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := Bundle(filepath.Join(dir, tt.file), Options{Dir: dir, Outdir: filepath.Join(dir, "out"), Target: api.ES2019, Define: tt.define})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
			if strings.ContainsFunc(string(out), func(r rune) bool { return r > '~' }) {
				t.Errorf("output %q is not ASCII", out)
			}
			if strings.Contains(string(out), "\n\n") || strings.Contains(string(out), "  ") {
				t.Errorf("output %q is not minified", out)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	files := map[string][]byte{"b.js": []byte("b"), "a.js": []byte("aa"), "c.css": []byte("ccc")}
	dir := filepath.Join(t.TempDir(), "new", "dist")
	var wrote []string
	err := generate(func(d string) (map[string][]byte, error) {
		if d != "." {
			t.Errorf("built in %q, want .", d)
		}
		return files, nil
	}, dir, func(name string, b []byte) {
		if string(b) != string(files[name]) {
			t.Errorf("wrote(%s) got %q, want %q", name, b, files[name])
		}
		wrote = append(wrote, name)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.js", "b.js", "c.css"}; !slices.Equal(wrote, want) {
		t.Errorf("wrote %v, want %v (in name order)", wrote, want)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}

	boom := errors.New("boom")
	err = generate(func(string) (map[string][]byte, error) { return nil, boom }, dir, func(string, []byte) {
		t.Error("wrote after a failed build")
	})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the build's", err)
	}
}
