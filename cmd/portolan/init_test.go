package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestInitAllocates bounds what portolan's packages allocate when the
// program starts, which every command pays whatever it does (--help
// too): their regexps, templates and tables are made on first use
// (lazyre, sync.OnceValue), not at init. It runs this test binary again,
// with no test, under GODEBUG=inittrace=1, which prints each package's
// init allocations. Before, extract alone allocated 981 KB at init and
// the packages together 1.35 MB; now about 80 KB.
func TestInitAllocates(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	line := regexp.MustCompile(`(?m)^init (\S+) @\S+ ms, \S+ ms clock, (\d+) bytes, \d+ allocs$`)
	const own = "github.com/portolan/portolan/"
	const perPackage, all = 48 << 10, 160 << 10
	n, total := 0, 0
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		pkg := m[1]
		// This package's init holds its tests' variables too.
		if !strings.HasPrefix(pkg, own) || pkg == own+"cmd/portolan" {
			continue
		}
		b, _ := strconv.Atoi(m[2])
		n++
		total += b
		if b > perPackage {
			t.Errorf("%s allocates %d bytes at init, more than %d", pkg, b, perPackage)
		}
	}
	if n < 10 {
		t.Fatalf("inittrace named %d of portolan's packages:\n%s", n, out)
	}
	if total > all {
		t.Errorf("portolan's packages allocate %d bytes at init, more than %d", total, all)
	}
}
