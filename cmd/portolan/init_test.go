package main

import (
	"io"
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

// BenchmarkAuditEmpty is the fixed cost of an audit, the part that does
// not depend on the ruleset: every service with every feature against an
// empty ruleset, in-process (the embedded catalog is decoded once a
// process, in the first run; the CLI pays it every run).
func BenchmarkAuditEmpty(b *testing.B) {
	_, rules, pins := auditFiles(b, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")
	args := []string{"audit", "all", "--all-features", "--ruleset", rules, "--hosts", pins, "--no-resolve",
		"--lan-if", "lan0", "--wan-if", "wan0", "--lan", "192.0.2.0/24,2001:db8:1::/64", "--output", "json",
		"--param", "company=acme", "--param", "pbx_address=192.0.2.10", "--param", "sip_provider=198.51.100.0/25",
		"--param", "pbx_peers=198.51.100.200", "--param", "service_network=203.0.113.0/24",
		"--param", "sbc_address=192.0.2.20", "--param", "sbc_media_ports=36000-59999",
		"--param", "h323_ports=1719-1720", "--param", "h323_media_ports=20000-29999",
		"--param", "custom_domains=video.example.com"}
	b.ReportAllocs()
	for b.Loop() {
		if code := run(args, io.Discard, io.Discard); code != 1 {
			b.Fatalf("exit %d, want 1 (required flows blocked)", code)
		}
	}
}
