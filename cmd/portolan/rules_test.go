package main

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
)

// dnsServer answers A and AAAA questions on loopback from a table that
// the test changes, with a TTL of 60 s; other names are NXDOMAIN.
type dnsServer struct {
	addr string
	mu   sync.Mutex
	recs map[string][]netip.Addr
}

func newDNSServer(t *testing.T, recs map[string][]netip.Addr) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{addr: pc.LocalAddr().String(), recs: recs}
	srv := &dns.Server{PacketConn: pc, Handler: s}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return s
}

func (s *dnsServer) set(name string, addrs ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[name] = addrs
}

func (s *dnsServer) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	s.mu.Lock()
	addrs, ok := s.recs[strings.TrimSuffix(q.Question[0].Name, ".")]
	s.mu.Unlock()
	if !ok {
		m.Rcode = dns.RcodeNameError
	}
	for _, a := range addrs {
		hdr := dns.RR_Header{Name: q.Question[0].Name, Class: dns.ClassINET, Ttl: 60}
		switch {
		case a.Is4() && q.Question[0].Qtype == dns.TypeA:
			hdr.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case a.Is6() && q.Question[0].Qtype == dns.TypeAAAA:
			hdr.Rrtype = dns.TypeAAAA
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	w.WriteMsg(m)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const starleafPins = "203.0.113.20 acme.call.sl\n2001:db8:3::20 acme.call.sl\n203.0.113.30 config.starleaf.com\n"

func TestRulesErrors(t *testing.T) {
	pins := writeFile(t, "pins", starleafPins)
	nx := newDNSServer(t, map[string][]netip.Addr{})
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad target", []string{"rules", "starleaf", "--target", "pf"}, 2, `--target "pf": one of ` + strings.Join(target.Names(), ", ")},
		{"bad mode", []string{"rules", "starleaf", "--mode", "bridge"}, 2, `--mode "bridge": gateway or host`},
		{"bad lan", []string{"rules", "starleaf", "--param", "company=acme", "--lan", "192.0.2.0/33"}, 2, `--lan "192.0.2.0/33": not a CIDR`},
		{"lan host bits", []string{"rules", "starleaf", "--param", "company=acme", "--lan", "192.0.2.1/24"}, 2, "--lan 192.0.2.1/24 has host bits set"},
		{"bad interface", []string{"rules", "starleaf", "--param", "company=acme", "--wan-if", "eth0; drop"}, 2, `--wan-if "eth0; drop": not an interface name`},
		{"host with interfaces", []string{"rules", "starleaf", "--param", "company=acme", "--mode", "host", "--lan-if", "eth1"}, 2, "--lan-if and --wan-if belong to gateway mode"},
		{"alternatives", []string{"rules", "starleaf", "--param", "company=acme", "--alternatives", "some"}, 2, `--alternatives "some": preferred or all`},
		{"required and optional", []string{"rules", "starleaf", "--param", "company=acme", "--required-only", "--optional"}, 2, "exclude each other"},
		{"missing param", []string{"rules", "starleaf", "--no-resolve"}, 2, "starleaf: missing param company, needed by tunnel-https, tunnel-udp: pass --param company=VALUE"},
		{"unknown feature", []string{"rules", "starleaf", "--feature", "webrtcc"}, 2, `unknown feature "webrtcc"`},
		{"bad table", []string{"rules", "starleaf", "--param", "company=acme", "--chain-only", "--table", "bridge x", "--no-resolve"}, 2, `--table "bridge x": family "bridge"`},
		{"hosts missing", []string{"rules", "starleaf", "--param", "company=acme", "--hosts", "/nonexistent/pins"}, 2, "/nonexistent/pins: no such file or directory"},
		{"unresolvable", []string{"rules", "starleaf", "--param", "company=nobody", "--hosts", pins, "--dns", nx.addr}, 2,
			"1 name has no address: nobody.call.sl (starleaf/tunnel-https, starleaf/tunnel-udp: no address (hosts file " + pins + "); not resolved (DNS " + nx.addr + ": NXDOMAIN)); pin them with --hosts FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := portolan(tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.stderr) {
				t.Errorf("exit %d, want %d\nstderr: %s\nwant: %s", code, tt.code, errs, tt.stderr)
			}
			if code != 0 && out != "" {
				t.Errorf("output despite the error:\n%.300s", out)
			}
		})
	}
}

func TestRulesNoResolve(t *testing.T) {
	out, errs, code := portolan("rules", "starleaf", "--param", "company=acme", "--no-resolve", "--stats")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"portolan: warning: config.starleaf.com: no address (--no-resolve); flow starleaf/config-https\n",
		"portolan: warning: acme.call.sl: no address (--no-resolve); flows starleaf/tunnel-https, starleaf/tunnel-udp\n",
		"portolan: stats: nftables: 6 rules, 4 named sets with 0 elements",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if !strings.Contains(out, "set starleaf_tunnel_v6 {") || strings.Contains(out, "elements =") {
		t.Errorf("want empty sets of both families:\n%s", out)
	}
	if strings.Contains(out, "portolan: ") {
		t.Error("stderr lines in the output")
	}
}

func TestRulesWildcardsSaid(t *testing.T) {
	out, errs, code := portolan("rules", "onsight", "--no-resolve", "--target", "iptables")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"portolan: warning: *.librestream.com is a wildcard domain",
		"portolan: skipped: onsight/proxy-https: wildcard domains only (*.librestream.com): allow on the web proxy (--target squid)",
		"portolan: skipped: onsight/redirect-http: optional, left out unless --optional",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
		if w := strings.TrimPrefix(strings.TrimPrefix(want, "portolan: warning: "), "portolan: "); !strings.Contains(out, w[:min(40, len(w))]) {
			t.Errorf("output comments lack %q", want)
		}
	}
	out, _, _ = portolan("rules", "onsight", "--target", "squid")
	if !strings.Contains(out, "dstdomain -n .librestream.com") || !strings.Contains(out, "ssl_bump splice portolan_nobump_dom") {
		t.Errorf("squid output:\n%s", out)
	}
	out, _, _ = portolan("rules", "onsight", "--target", "domains")
	if out != "*.librestream.com\n" {
		t.Errorf("domains = %q", out)
	}
}

func TestRulesOutputFile(t *testing.T) {
	pins := writeFile(t, "pins", starleafPins)
	path := filepath.Join(t.TempDir(), "portolan.nft")
	out, errs, code := portolan("rules", "starleaf", "--param", "company=acme", "--hosts", pins, "--no-resolve", "-o", path)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errs)
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), "203.0.113.20 comment \"acme.call.sl\"") {
		t.Fatalf("file: %v\n%s", err, data)
	}
	// A failing run leaves the file as it was.
	_, _, code = portolan("rules", "starleaf", "--hosts", pins, "-o", path)
	if code != 2 {
		t.Fatalf("exit %d", code)
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Error("a failed run changed the output file")
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// TestRulesHeaderSyncLine: the header's sync command is one comment line
// that, without its "# ", runs as written from another directory (paths
// absolute) and refreshes the loaded ruleset; the command line is one
// line with absolute paths too.
func TestRulesHeaderSyncLine(t *testing.T) {
	l := netlab.New(t)
	work := t.TempDir()
	t.Chdir(work)
	if err := os.WriteFile("pins", []byte(starleafPins), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir("cat", 0o755); err != nil {
		t.Fatal(err)
	}
	writeProfile(t, filepath.Join("cat", "demo.yaml"), "demo", "8443")
	_, errs, code := portolan("--catalog", "cat", "rules", "starleaf", "--param", "company=acme", "--hosts", "pins", "--lan", "192.0.2.0/24", "--stats", "-o", "out.nft")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, err := os.ReadFile("out.nft")
	if err != nil {
		t.Fatal(err)
	}
	out := string(data)
	var syncLine, cmdLine string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "# portolan ") && strings.Contains(line, " sync "):
			syncLine = strings.TrimPrefix(line, "# ")
		case strings.HasPrefix(line, "# command: "):
			cmdLine = line
		}
	}
	want := "portolan --catalog " + filepath.Join(work, "cat") + " sync starleaf --hosts " + filepath.Join(work, "pins") + " --lan 192.0.2.0/24 --param company=acme"
	if syncLine != want {
		t.Fatalf("sync line %q, want %q in:\n%.3000s", syncLine, want, out)
	}
	if !strings.Contains(cmdLine, "-o "+filepath.Join(work, "out.nft")) && !strings.Contains(cmdLine, "--output-file "+filepath.Join(work, "out.nft")) {
		t.Errorf("command line without the absolute output path: %q", cmdLine)
	}
	if err := l.Router.Nft(out); err != nil {
		t.Fatal(err)
	}
	saved := runNft
	runNft = func(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
		out, err := l.Router.RunInput(stdin, "nft", args...)
		return []byte(out), err
	}
	t.Cleanup(func() { runNft = saved })
	// As cron would: the shell splits the line, from another directory.
	t.Chdir(t.TempDir())
	words, err := exec.Command("sh", "-c", "printf '%s\\0' "+strings.TrimPrefix(syncLine, "portolan ")).Output()
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(words), "\x00"), "\x00")
	if _, errs, code := portolan(args...); code != 0 {
		t.Errorf("the header's sync line: exit %d: %s", code, errs)
	}
}

func TestRulesHelp(t *testing.T) {
	out, _, code := portolan("rules", "--help")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"optional ones only with --optional", "--alternatives all", "--chain-only", "-o, --output-file", "Examples:", "squid", "ip6tables"} {
		if !strings.Contains(out, want) {
			t.Errorf("rules --help lacks %q", want)
		}
	}
	out, _, _ = portolan("sync", "--help")
	for _, want := range []string{"flush", "--dry-run", "Exit codes"} {
		if !strings.Contains(out, want) {
			t.Errorf("sync --help lacks %q", want)
		}
	}
}

// TestRulesAndSyncOnKernel is the command line end to end: rules from a
// DNS server (TTL kept in the comments), loaded on a lab router; traffic
// to the name passes; the name moves in DNS; sync refreshes the set on
// the router and the new address passes, the old one no longer.
func TestRulesAndSyncOnKernel(t *testing.T) {
	l := netlab.New(t)
	ns := newDNSServer(t, map[string][]netip.Addr{
		"acme.call.sl":        {netip.MustParseAddr("203.0.113.20")},
		"config.starleaf.com": {netip.MustParseAddr("203.0.113.30"), netip.MustParseAddr("2001:db8:3::30")},
	})
	old := targettest.Probe{Proto: "udp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("203.0.113.20:24704")}
	moved := targettest.Probe{Proto: "udp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("203.0.113.21:24704")}
	rf := targettest.NewReferee(t, l, []targettest.Probe{old, moved})

	args := []string{"starleaf", "--param", "company=acme", "--dns", ns.addr, "--lan-if", "lan0", "--wan-if", "wan0", "--lan", "192.0.2.0/24,2001:db8:1::/64"}
	out, errs, code := portolan(append([]string{"rules"}, args...)...)
	if code != 0 {
		t.Fatalf("rules: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "TTL 60s") {
		t.Errorf("the TTL is not in the comments:\n%s", out)
	}
	if ipt, errs, code := portolan(append([]string{"rules", "--target", "iptables"}, args...)...); code != 0 || !strings.Contains(ipt, "# addresses of acme.call.sl resolved ") || !strings.Contains(ipt, "TTL 60s; regenerate to refresh") {
		t.Errorf("iptables: exit %d, no time and TTL of the names: %s\n%s", code, errs, ipt)
	}
	if err := l.Router.Nft(out); err != nil {
		t.Fatal(err)
	}
	send := func(p targettest.Probe, want bool) {
		t.Helper()
		if got, err := rf.Send(p); got != want || err != nil {
			t.Errorf("%s: passed=%v (%v), want %v", p, got, err, want)
		}
	}
	send(old, true)
	send(moved, false)

	saved := runNft
	runNft = func(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
		out, err := l.Router.RunInput(stdin, "nft", args...)
		return []byte(out), err
	}
	t.Cleanup(func() { runNft = saved })

	ns.set("acme.call.sl", netip.MustParseAddr("203.0.113.21"))
	out, errs, code = portolan(append([]string{"sync", "--dry-run"}, args...)...)
	if code != 0 || !strings.Contains(out, "flush set inet portolan starleaf_tunnel_v4\nadd element inet portolan starleaf_tunnel_v4 { 203.0.113.21 comment \"acme.call.sl\" }") {
		t.Fatalf("sync --dry-run: exit %d\n%s\n%s", code, out, errs)
	}
	send(moved, false) // a dry run changes nothing
	_, errs, code = portolan(append([]string{"sync"}, args...)...)
	if code != 0 || !strings.Contains(errs, "starleaf_tunnel_v4: 203.0.113.21 (+203.0.113.21 -203.0.113.20; resolved ") {
		t.Fatalf("sync: exit %d\n%s", code, errs)
	}
	send(old, false)
	send(moved, true)
	if _, errs, code = portolan(append([]string{"sync", "--quiet"}, args...)...); code != 0 || errs != "" {
		t.Errorf("second sync: exit %d, %q", code, errs)
	}

	// DNS loses the name: sync keeps the set and says so, exit 1.
	ns.mu.Lock()
	delete(ns.recs, "acme.call.sl")
	ns.mu.Unlock()
	_, errs, code = portolan(append([]string{"sync"}, args...)...)
	if code != 1 || !strings.Contains(errs, "starleaf_tunnel_v4: no address for acme.call.sl (not resolved (DNS "+ns.addr+": NXDOMAIN)) now; the set keeps what it has") {
		t.Errorf("sync without the name: exit %d, want 1 and why (NXDOMAIN)\n%s", code, errs)
	}
	send(moved, true)

	// A DNS server that does not answer: sync says so.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	quiet := slices.Clone(args)
	quiet[slices.Index(quiet, ns.addr)] = silent.LocalAddr().String()
	_, errs, code = portolan(append([]string{"sync"}, quiet...)...)
	if code != 1 || !strings.Contains(errs, "starleaf_tunnel_v4: no address for acme.call.sl (") || !strings.Contains(errs, "timeout") {
		t.Errorf("sync with a silent DNS server: exit %d, want 1 and why (timeout)\n%s", code, errs)
	}
	send(moved, true)

	// Without the table, sync says what to do.
	if _, err := l.Router.Run("nft", "delete", "table", "inet", "portolan"); err != nil {
		t.Fatal(err)
	}
	_, errs, code = portolan(append([]string{"sync"}, args...)...)
	if code != 2 || !strings.Contains(errs, "table inet portolan: table not loaded: load the ruleset first") {
		t.Errorf("sync without table: exit %d %s", code, errs)
	}
}

// TestSyncLANOfOneFamily: with an IPv4-only --lan the ruleset has no IPv6
// sets; a name that also has an AAAA record is not a problem for sync,
// which exits 0 and refreshes the IPv4 set, run after run.
func TestSyncLANOfOneFamily(t *testing.T) {
	l := netlab.New(t)
	ns := newDNSServer(t, map[string][]netip.Addr{
		"acme.call.sl":        {netip.MustParseAddr("203.0.113.20"), netip.MustParseAddr("2001:db8:3::20")},
		"config.starleaf.com": {netip.MustParseAddr("203.0.113.30"), netip.MustParseAddr("2001:db8:3::30")},
	})
	args := []string{"starleaf", "--param", "company=acme", "--dns", ns.addr, "--lan", "192.0.2.0/24"}
	out, errs, code := portolan(append([]string{"rules"}, args...)...)
	if code != 0 {
		t.Fatalf("rules: exit %d: %s", code, errs)
	}
	if strings.Contains(out, "_v6") {
		t.Fatalf("an IPv4-only LAN got IPv6 sets:\n%s", out)
	}
	if err := l.Router.Nft(out); err != nil {
		t.Fatal(err)
	}
	saved := runNft
	runNft = func(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
		out, err := l.Router.RunInput(stdin, "nft", args...)
		return []byte(out), err
	}
	t.Cleanup(func() { runNft = saved })

	ns.set("acme.call.sl", netip.MustParseAddr("203.0.113.21"), netip.MustParseAddr("2001:db8:3::21"))
	for run := 1; run <= 2; run++ {
		_, errs, code = portolan(append([]string{"sync"}, args...)...)
		if code != 0 || strings.Contains(errs, "_v6") {
			t.Fatalf("sync run %d: exit %d, want 0 and nothing about IPv6 sets:\n%s", run, code, errs)
		}
	}
	set, err := l.Router.Run("nft", "list", "set", "inet", "portolan", "starleaf_tunnel_v4")
	if err != nil || !strings.Contains(set, "203.0.113.21") || strings.Contains(set, "203.0.113.20 ") {
		t.Errorf("the IPv4 set was not refreshed: %v\n%s", err, set)
	}
}

// TestRulesHostWithoutLAN: in host mode, "lan" without --lan is any
// address; rules says so on stderr and in the header, as gateway mode
// does, and says nothing once --lan is given.
func TestRulesHostWithoutLAN(t *testing.T) {
	base := []string{"rules", "starface", "--mode", "host", "--no-resolve", "--param", "pbx_address=192.0.2.10", "--param", "sip_provider=198.51.100.0/24"}
	tests := []struct {
		name   string
		more   []string
		warned bool
	}{
		{"no lan", nil, true},
		{"lan given", []string{"--lan", "192.0.2.0/24"}, false},
		{"iptables", []string{"--target", "iptables"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := portolan(append(slices.Clone(base), tt.more...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			warn := `portolan: warning: "lan" is any address: --lan is not given`
			if got := strings.Contains(errs, warn) && strings.Contains(errs, "starface/sip-phones-udp"); got != tt.warned {
				t.Errorf("warned on stderr = %v, want %v:\n%s", got, tt.warned, errs)
			}
			if got := strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(out, "#", "")), " "), "LAN not given (--lan): flows to or from the LAN accept any address"); got != tt.warned {
				t.Errorf("warned in the header = %v, want %v:\n%.1500s", got, tt.warned, out)
			}
		})
	}
}
