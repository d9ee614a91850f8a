package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target/targettest"
)

// TestRulesMappedAddresses feeds IPv4-mapped IPv6 addresses in everywhere
// a user's addresses enter rules: --lan, a hosts file, a DNS AAAA answer.
// The output must pass nft -c, iptables-restore --test and
// ip6tables-restore --test, hold no mapped address, and mean what was
// asked: the kernel lets the LAN reach the IPv4 address behind the mapped
// AAAA answer.
func TestRulesMappedAddresses(t *testing.T) {
	l := netlab.New(t)
	ns := newDNSServer(t, map[string][]netip.Addr{
		"acme.call.sl": {netip.MustParseAddr("::ffff:203.0.113.20"), netip.MustParseAddr("2001:db8:3::20")}, // no A record
	})
	pins := writeFile(t, "pins", "::ffff:203.0.113.30 config.starleaf.com\n")
	args := []string{"starleaf", "--param", "company=acme", "--dns", ns.addr, "--hosts", pins,
		"--lan-if", "lan0", "--wan-if", "wan0", "--lan", "::ffff:192.0.2.0/120,2001:db8:1::/64"}

	outputs := map[string]string{}
	for _, tg := range []string{"nftables", "iptables", "ip6tables"} {
		out, errs, code := portolan(append([]string{"rules", "--target", tg}, args...)...)
		if code != 0 {
			t.Fatalf("rules --target %s: exit %d: %s", tg, code, errs)
		}
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(strings.ToLower(line), "::ffff:") {
				t.Errorf("%s output holds an IPv4-mapped address: %s", tg, line)
			}
		}
		outputs[tg] = out
	}
	for tg, want := range map[string][]string{
		"nftables":  {"192.0.2.0/24", "203.0.113.20", "203.0.113.30"},
		"iptables":  {"-s 192.0.2.0/24", "203.0.113.20", "203.0.113.30"},
		"ip6tables": {"-s 2001:db8:1::/64", "2001:db8:3::20"},
	} {
		for _, w := range want {
			if !strings.Contains(outputs[tg], w) {
				t.Errorf("%s output lacks %s:\n%s", tg, w, outputs[tg])
			}
		}
	}
	for _, c := range []struct {
		tg   string
		args []string
	}{
		{"nftables", []string{"nft", "-c", "-f", "-"}},
		{"iptables", []string{"iptables-restore", "--test", "--noflush"}},
		{"ip6tables", []string{"ip6tables-restore", "--test", "--noflush"}},
	} {
		if out, err := l.Router.RunInput([]byte(outputs[c.tg]), c.args[0], c.args[1:]...); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(c.args, " "), err, out)
		}
	}

	// The kernel referees: the LAN reaches the tunnel at the address the
	// mapped AAAA answer names, and nothing next to it.
	tunnel := targettest.Probe{Proto: "udp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("203.0.113.20:24704")}
	beside := targettest.Probe{Proto: "udp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("203.0.113.21:24704")}
	rf := targettest.NewReferee(t, l, []targettest.Probe{tunnel, beside})
	if err := l.Router.Nft(outputs["nftables"]); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[targettest.Probe]bool{tunnel: true, beside: false} {
		if got, err := rf.Send(p); got != want || err != nil {
			t.Errorf("%s: passed=%v (%v), want %v", p, got, err, want)
		}
	}
}

// TestMappedInputsRefused checks the entry points that refuse an
// IPv4-mapped address rather than read it: a profile (file, line, field)
// and a param.
func TestMappedInputsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "demo.yaml")
	writeProfile(t, path, "demo", "443")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src = []byte(strings.Replace(string(src), "entries: [198.51.100.0/24]", `entries: ["::ffff:198.51.100.0/120"]`, 1))
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"profile", []string{"--catalog", dir, "rules", "demo", "--no-resolve"}, path + `:12:15: hosts[0].entries[0]: CIDR "::ffff:198.51.100.0/120" is IPv4-mapped IPv6, which no IPv6 packet carries; write it as IPv4: 198.51.100.0/24`},
		{"param", []string{"rules", "starface", "--param", "pbx_address=::ffff:192.0.2.10", "--no-resolve"}, `--param pbx_address: address "::ffff:192.0.2.10" is IPv4-mapped IPv6, which no IPv6 packet carries; write it as IPv4: 192.0.2.10`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := portolan(tt.args...)
			if code != 2 || !strings.Contains(errs, tt.stderr) || out != "" {
				t.Errorf("exit %d, want 2\nstderr: %s\nwant: %s", code, errs, tt.stderr)
			}
		})
	}
}
