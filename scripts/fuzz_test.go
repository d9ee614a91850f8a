// Package scripts holds the tests of the project's scripts.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGo is a "go" for fuzz.sh: "go test -list" prints $FAKE/list, "go
// list -f {{.Dir}} PKG" names $FAKE/pkg/BASE, and a fuzz run of NAME plays
// the next outcome of $FAKE/plan/NAME: pass, flake (the runner's "context
// deadline exceeded", no crasher), crash (a crasher written) or broken
// (a failure of another kind). Every call is appended to $FAKE/calls.
const fakeGo = `#!/bin/sh
echo "$*" >>"$FAKE/calls"
if [ "$1" = list ]; then echo "$FAKE/pkg/$(basename "$4")"; exit 0; fi
case "$*" in *" -list "*) cat "$FAKE/list"; exit 0;; esac
pkg=$2
name=$(echo "$*" | sed 's/.*-fuzz \^\([A-Za-z0-9_]*\)\$.*/\1/')
n=$(cat "$FAKE/n.$name" 2>/dev/null || echo 0); n=$((n+1)); echo $n >"$FAKE/n.$name"
outcome=$(sed -n "${n}p" "$FAKE/plan/$name")
case $outcome in
pass) echo "fuzz: elapsed: 1s, execs: 100"; echo ok; exit 0;;
flake) echo "--- FAIL: $name (1.00s)"; echo "    context deadline exceeded"; echo FAIL; exit 1;;
crash) d="$FAKE/pkg/$(basename "$pkg")/testdata/fuzz/$name"; mkdir -p "$d"; echo 'go test fuzz v1' >"$d/c0ffee"
       echo "    Failing input written to testdata/fuzz/$name/c0ffee"; exit 1;;
broken) echo "# $pkg: build failed"; exit 1;;
esac
echo "fake go: no outcome $n for $name" >&2; exit 3
`

const listing = `FuzzLoad
ok  	example.com/m/catalog	0.010s
?   	example.com/m/model	[no test files]
ok  	example.com/m/report	0.004s
FuzzDecode
FuzzServe
ok  	example.com/m/reflector	0.012s
`

// TestFuzzScript: every target runs; the runner's deadline flake is
// retried once and never fails the run; a crasher or another failure does,
// after every target ran (issue 8 item 21).
func TestFuzzScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed for scripts/fuzz.sh")
	}
	script, err := filepath.Abs("fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		plans map[string]string // target → outcomes, one per run
		code  int
		runs  map[string]int
		out   []string
	}{
		{"all pass", map[string]string{"FuzzLoad": "pass", "FuzzDecode": "pass", "FuzzServe": "pass"}, 0,
			map[string]int{"FuzzLoad": 1, "FuzzDecode": 1, "FuzzServe": 1}, []string{"3 targets: 3 passed, 0 flaky, 0 failed"}},
		{"flake then pass", map[string]string{"FuzzLoad": "flake\npass", "FuzzDecode": "pass", "FuzzServe": "pass"}, 0,
			map[string]int{"FuzzLoad": 2, "FuzzDecode": 1, "FuzzServe": 1}, []string{"retrying once", "3 passed, 0 flaky, 0 failed"}},
		{"flake twice", map[string]string{"FuzzLoad": "pass", "FuzzDecode": "flake\nflake", "FuzzServe": "pass"}, 0,
			map[string]int{"FuzzLoad": 1, "FuzzDecode": 2, "FuzzServe": 1}, []string{"2 passed, 1 flaky, 0 failed", "flaky: example.com/m/reflector FuzzDecode"}},
		{"crasher, the others still run", map[string]string{"FuzzLoad": "crash", "FuzzDecode": "pass", "FuzzServe": "pass"}, 1,
			map[string]int{"FuzzLoad": 1, "FuzzDecode": 1, "FuzzServe": 1}, []string{"2 passed, 0 flaky, 1 failed", "FAILED: example.com/m/catalog FuzzLoad: crasher", "testdata/fuzz/FuzzLoad/c0ffee"}},
		{"flake then crasher", map[string]string{"FuzzLoad": "pass", "FuzzDecode": "pass", "FuzzServe": "flake\ncrash"}, 1,
			map[string]int{"FuzzLoad": 1, "FuzzDecode": 1, "FuzzServe": 2}, []string{"FAILED: example.com/m/reflector FuzzServe: crasher"}},
		{"other failure, no retry", map[string]string{"FuzzLoad": "broken", "FuzzDecode": "crash", "FuzzServe": "pass"}, 1,
			map[string]int{"FuzzLoad": 1, "FuzzDecode": 1, "FuzzServe": 1}, []string{"1 passed, 0 flaky, 2 failed", "FuzzLoad: exit 1, no crasher", "build failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := t.TempDir()
			bin := filepath.Join(fake, "bin")
			for _, d := range []string{bin, filepath.Join(fake, "plan"), filepath.Join(fake, "pkg", "reflector", "testdata", "fuzz", "FuzzServe")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// A corpus file that was there before is no crasher.
			write(t, filepath.Join(fake, "pkg", "reflector", "testdata", "fuzz", "FuzzServe", "seed1"), "go test fuzz v1\n")
			write(t, filepath.Join(bin, "go"), fakeGo)
			if err := os.Chmod(filepath.Join(bin, "go"), 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(fake, "list"), listing)
			for name, plan := range tt.plans {
				write(t, filepath.Join(fake, "plan", name), plan+"\n")
			}
			cmd := exec.Command("bash", script)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE="+fake, "GO=go", "FUZZTIME=1s")
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, out)
			}
			for _, w := range tt.out {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			calls, _ := os.ReadFile(filepath.Join(fake, "calls"))
			for name, want := range tt.runs {
				if got := strings.Count(string(calls), "-fuzz ^"+name+"$ "); got != want {
					t.Errorf("%s ran %d times, want %d\ncalls:\n%s", name, got, want, calls)
				}
			}
			if !strings.Contains(string(calls), "-fuzztime 1s") {
				t.Errorf("FUZZTIME not passed on:\n%s", calls)
			}
		})
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
