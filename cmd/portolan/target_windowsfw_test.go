package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRulesWindows: --target windows refuses gateway mode (the default)
// with exit 2 and what to do; in host mode it writes the script, with
// --dynamic-keywords as keywords; --dynamic-keywords with another target
// is a usage error; with keywords, names without an address are no
// warning (Windows resolves them).
func TestRulesWindows(t *testing.T) {
	for _, c := range []struct {
		args     []string
		code     int
		out, err string
		notErr   string
	}{
		{[]string{"rules", "starleaf", "--param", "company=acme", "--no-resolve", "--target", "windows"}, 2, "", "--mode host", ""},
		{[]string{"rules", "starleaf", "--param", "company=acme", "--no-resolve", "--target", "windows", "--mode", "host"}, 0, "Remove-NetFirewallRule -Group 'portolan starleaf'", "have no IPv4 address yet", ""},
		{[]string{"rules", "starleaf", "--param", "company=acme", "--target", "windows", "--mode", "host", "--dynamic-keywords"}, 0, "New-NetFirewallDynamicKeywordAddress -Id '{", "", "no address"},
		{[]string{"rules", "starleaf", "--param", "company=acme", "--no-resolve", "--dynamic-keywords"}, 2, "", "--dynamic-keywords is a flag of --target windows", ""},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errb.String(), c.err) ||
			c.notErr != "" && strings.Contains(errb.String(), c.notErr) {
			t.Errorf("%q: exit %d, want %d\nstdout: %.300s\nstderr: %s", c.args, code, c.code, out.String(), errb.String())
		}
	}
}
