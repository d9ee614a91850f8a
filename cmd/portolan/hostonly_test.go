package main

import (
	"strings"
	"testing"
)

// TestHostOnlyTargetsRefuseFirst: a target that writes host rules only
// refuses gateway mode (the default) before any name is resolved, so the
// user reads "--mode host", not a DNS failure. The DNS server given is a
// closed loopback port: asking it would fail every name.
func TestHostOnlyTargetsRefuseFirst(t *testing.T) {
	for _, c := range []struct {
		target string
		extra  []string
		want   string
	}{
		{"windows", nil, "run it with --mode host"},
		{"aws", nil, "pass --mode host"},
		{"aws", []string{"--mode", "host", "--vpc-id", "vpc-x"}, `--vpc-id "vpc-x": not a VPC id`},
		{"kubernetes", []string{"--selector", "app=pbx"}, "give --mode host"},
		{"cilium", []string{"--selector", "app=pbx"}, "give --mode host"},
		{"kubernetes", []string{"--selector", "app=pbx", "--mode", "host", "--chain-only"}, "--chain-only: --target kubernetes"},
	} {
		t.Run(c.target+strings.Join(c.extra, ""), func(t *testing.T) {
			args := append([]string{"rules", "starleaf", "--param", "company=acme", "--dns", "127.0.0.1:1", "--target", c.target}, c.extra...)
			_, errs, code := portolan(args...)
			if code != 2 || !strings.Contains(errs, c.want) || strings.Contains(errs, "no address") {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q before any DNS", code, errs, c.want)
			}
		})
	}
}
