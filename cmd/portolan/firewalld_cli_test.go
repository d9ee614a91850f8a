package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFirewalldRulesAndAudit: rules --target firewalld -o DIR writes a
// tree, audit --ruleset DIR reads it back and finds every required flow
// allowed; a policy that accepts firewalld's stock sip service makes the
// alg-off constraint fail (exit 1); the target's flags are refused with
// another target and bad zone names are usage errors.
func TestFirewalldRulesAndAudit(t *testing.T) {
	if _, err := os.Stat("/usr/lib/firewalld/services/sip.xml"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("firewalld's stock configuration is not installed (Debian package firewalld)")
		}
		t.Skip("firewalld's stock configuration is not installed")
	}
	dir := filepath.Join(t.TempDir(), "firewalld")
	site := []string{"--mode", "host", "--lan", "192.0.2.0/24"}
	_, errs, code := portolan(append([]string{"rules", "tw-solutions", "--target", "firewalld", "--zone", "drop", "-o", dir}, site...)...)
	if code != 0 {
		t.Fatalf("rules: exit %d: %s", code, errs)
	}
	for _, p := range []string{"policies/portolan-in.xml", "policies/portolan-out.xml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
	out, errs, code := portolan(append([]string{"audit", "tw-solutions", "--ruleset", dir}, site...)...)
	if code != 0 || !strings.Contains(out, "7 of 7 required flows allowed") {
		t.Fatalf("audit of the tree: exit %d: %s%s", code, out, errs)
	}
	pol := `<?xml version="1.0" encoding="utf-8"?>
<policy target="CONTINUE" priority="-10"><ingress-zone name="HOST"/><egress-zone name="ANY"/><service name="sip"/></policy>
`
	if err := os.WriteFile(filepath.Join(dir, "policies", "sip-out.xml"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code = portolan(append([]string{"audit", "tw-solutions", "--ruleset", dir}, site...)...)
	if code != 1 || !strings.Contains(out, `conntrack helper "sip" is attached`) {
		t.Errorf("audit with the stock sip service: exit %d: %s%s", code, out, errs)
	}
	for _, args := range [][]string{
		{"rules", "tw-solutions", "--target", "nftables", "--zone", "public"},
		{"rules", "tw-solutions", "--target", "firewalld", "--zone", "no such zone"},
		{"rules", "tw-solutions", "--target", "firewalld", "--lan-zone", "external"},
	} {
		if _, errs, code := portolan(args...); code != 2 {
			t.Errorf("%s: exit %d, want 2: %s", strings.Join(args, " "), code, errs)
		}
	}
}
