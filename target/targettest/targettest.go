// Package targettest lets the kernel referee generated firewall rules:
// it builds the input of a case on documentation addresses (a lab catalog
// whose public blocks are moved into the documentation ranges, names
// pinned to cloud addresses), derives probe packets from the policy's
// plan — every port the rules open (ranges: first, last, one inside) and
// neighbours no flow asks for — loads the rules on a netlab router and
// sends real TCP connections and UDP datagrams across it.
//
// What a probe should do is read from the plan (policy.Rule), never from
// the generated text; what it does is the kernel's.
package targettest

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

// LabAddresses moves each public address and block of the embedded
// profiles into the documentation ranges, keeping the shape: as many
// entries, single addresses stay single, blocks stay blocks. Blocks stay
// clear of the lab's own addresses (198.51.100.1 and .10) and of
// 203.0.113.200-255, where names are pinned.
var LabAddresses = map[string]map[string]string{
	"tw-solutions": {
		"52.67.38.195/32":   "203.0.113.5/32",
		"18.231.46.68/32":   "203.0.113.6/32",
		"200.219.237.64/27": "203.0.113.32/27",
		"200.219.251.0/27":  "203.0.113.64/27",
		"200.198.186.96/27": "203.0.113.96/27",
		"200.155.7.160/27":  "203.0.113.128/27",
		"200.201.192.0/18":  "198.51.100.64/26",
		"187.60.48.0/20":    "198.51.100.128/27",
		"177.20.192.0/20":   "198.51.100.160/27",
	},
	"onsight": {
		"52.142.34.48/28":  "203.0.113.16/28",
		"51.105.215.0/28":  "203.0.113.32/28",
		"52.253.84.80/28":  "203.0.113.48/28",
		"52.146.156.64/28": "203.0.113.64/28",
		"13.70.46.96/28":   "203.0.113.80/28",
		"13.64.48.96/28":   "203.0.113.96/28",
		"54.213.166.17":    "203.0.113.117",
		"54.200.152.202":   "203.0.113.121",
		"54.201.34.23":     "203.0.113.122",
		"54.213.38.103":    "203.0.113.123",
		"54.218.75.97":     "203.0.113.124",
		"54.213.75.101":    "203.0.113.125",
		"54.200.248.252":   "203.0.113.126",
		"17.0.0.0/8":       "198.51.100.128/26",
	},
	"pexip": {
		"185.94.242.66": "203.0.113.166",
	},
	"starface": {
		"37.120.180.58":  "203.0.113.170",
		"37.120.180.6":   "203.0.113.171",
		"37.120.181.198": "203.0.113.172",
		"37.120.181.229": "203.0.113.173",
		"85.184.250.15":  "203.0.113.174",
	},
}

// LabProfiles are test-only profiles that LabCatalog adds, for shapes the
// embedded catalog does not have.
var LabProfiles = map[string]string{
	// Three port forwards from any source, in this order, where the second
	// overlaps both others and goes to another host. The first forward
	// that matches a packet wins: 5060 goes to the PBX, 5061 to the SBC.
	// A generator that joined the third forward to the first, as they
	// differ only in ports, would send 5061 to the PBX.
	"lab-forwards": `service:
  slug: lab-forwards
  name: Lab forwards
  vendor: portolan tests
  document: lab-forwards.txt
  language: en
params:
  - {name: pbx_address, type: address, description: the PBX, example: 192.0.2.10}
  - {name: sbc_address, type: address, description: the SBC, example: 192.0.2.20}
roles:
  - {name: pbx, description: the PBX, address_param: pbx_address}
  - {name: sbc, description: the SBC, address_param: sbc_address}
hosts:
  - {name: internet, entries: [any], description: any address}
flows:
  - {id: pbx-sip, direction: inbound, proto: [udp, tcp], ports: [5060], local: pbx, remote: [internet], necessity: required, app: sip, purpose: {en: SIP to the PBX}, source: {quote: q, line: 1}}
  - {id: sbc-sip, direction: inbound, proto: [udp, tcp], ports: [5060-5061], local: sbc, remote: [internet], necessity: required, app: sip, purpose: {en: SIP to the SBC}, source: {quote: q, line: 2}}
  - {id: pbx-tls, direction: inbound, proto: [udp, tcp], ports: [5061], local: pbx, remote: [internet], necessity: required, app: sip-tls, purpose: {en: SIP TLS to the PBX}, source: {quote: q, line: 3}}
`,
}

// Outside is an address of each family that no profile or pin uses: a
// destination (or source) no flow names.
var Outside = map[int]netip.Addr{4: netip.MustParseAddr("203.0.113.250"), 6: netip.MustParseAddr("2001:db8:3::250")}

// addrRE finds IPv4 addresses and blocks, whole.
var addrRE = regexp.MustCompile(`\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(/[0-9]{1,2})?\b`)

var documentation = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32"),
}

// IsDocumentation reports whether every address of p is a documentation address.
func IsDocumentation(p netip.Prefix) bool {
	for _, d := range documentation {
		if d.Bits() <= p.Bits() && d.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// LabCatalog writes the lab profiles into a new directory, for --catalog:
// each embedded profile with a public address, with LabAddresses applied,
// and LabProfiles.
// It fails the test when a profile still holds a public address, so that
// a new block in a profile gets its documentation twin here.
func LabCatalog(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(testenv.RepoRoot(t), "catalog", "profiles")
	for slug, m := range LabAddresses {
		data, err := os.ReadFile(filepath.Join(src, slug+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		text := addrRE.ReplaceAllStringFunc(string(data), func(a string) string {
			if to, ok := m[a]; ok {
				used[a] = true
				return to
			}
			return a
		})
		for from := range m {
			if !used[from] {
				t.Fatalf("lab catalog: %s no longer holds %s; update targettest.LabAddresses", slug, from)
			}
		}
		path := filepath.Join(dir, slug+".yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for slug, text := range LabProfiles {
		if err := os.WriteFile(filepath.Join(dir, slug+".yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatalf("lab catalog: %v", err)
	}
	for _, s := range cat.Services() {
		for _, h := range s.Hosts {
			for _, e := range h.Entries {
				pe, err := model.ParseEntry(e)
				if err == nil && pe.IsAddress() && !IsDocumentation(pe.Prefix) {
					t.Fatalf("lab catalog: %s host set %s holds %s, which is not a documentation address; add it to targettest.LabAddresses", s.Slug(), h.Name, e)
				}
			}
		}
	}
	return dir
}

// Pins assigns every DNS name the choices' flows reach an address in
// 203.0.113.200-239 and, for two names in three, one in 2001:db8:3::/64,
// and returns them as a hosts file.
func Pins(t testing.TB, choices []*resolve.Choice) string {
	t.Helper()
	seen := map[string]bool{}
	var names []string
	for _, c := range choices {
		flows, err := c.Flows(true)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flows {
			for _, d := range f.Dest {
				if e, err := model.ParseEntry(d); err == nil && e.Kind == model.EntryName && !seen[d] {
					seen[d] = true
					names = append(names, d)
				}
			}
		}
	}
	sort.Strings(names)
	if len(names) > 40 {
		t.Fatalf("pins: %d names, more than 203.0.113.200-239 holds", len(names))
	}
	var b strings.Builder
	for i, n := range names {
		fmt.Fprintf(&b, "203.0.113.%d %s\n", 200+i, n)
		if i%3 != 2 {
			fmt.Fprintf(&b, "2001:db8:3::%d %s\n", 200+i, n)
		}
	}
	return b.String()
}

// Case is one configuration the kernel checks.
type Case struct {
	Name     string
	Services []string
	Sel      resolve.Selection
	Options  target.Options
	// NoLAN leaves --lan out: outbound flows from any source, so rules
	// that match no address at all.
	NoLAN bool
}

// Site is the lab's gateway: LAN on lan0, internet on wan0.
var Site = policy.Site{
	Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf,
	LAN: []netip.Prefix{netlab.LANNet, netlab.LANNet6},
}

// Input prepares a case over the lab catalog with its names pinned; it
// also returns the pins as a hosts file.
func (c Case) Input(t testing.TB, catalogDir string) (*target.Input, string) {
	t.Helper()
	return c.InputOn(t, catalogDir, Site.LANIf, Site.WANIf)
}

// InputOn is Input on a gateway whose interfaces (or zones) have the
// platform's own names: port1 and wan1 on a FortiGate, lan and wan on
// OPNsense, inside and outside on an ASA.
func (c Case) InputOn(t testing.TB, catalogDir, lanIf, wanIf string) (*target.Input, string) {
	t.Helper()
	cat, err := catalog.Open(catalogDir)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select(c.Services)
	if err != nil {
		t.Fatal(err)
	}
	choices, err := resolve.Choose(svcs, c.Sel)
	if err != nil {
		t.Fatal(err)
	}
	pins := Pins(t, choices)
	h, err := resolve.ParseHosts("pins", strings.NewReader(pins))
	if err != nil {
		t.Fatal(err)
	}
	site := Site
	site.LANIf, site.WANIf = lanIf, wanIf
	if c.NoLAN {
		site.LAN = nil
	}
	in, err := target.Prepare(context.Background(), target.Config{
		Choices: choices, Resolver: h, Site: site, Options: c.Options,
		Generated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Version: "test",
		ResolverInfo: "hosts file pins",
	})
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return in, pins
}

func sel(features []string, all bool, params ...string) resolve.Selection {
	return resolve.Selection{Features: features, AllFeatures: all, Params: params}
}

// GatewayCases are the configurations the kernel referees for every
// packet-filter target: each service, features that change the rules,
// IPv4 and IPv6 port forwards, one-of groups preferred and all.
var GatewayCases = []Case{
	{Name: "starleaf", Services: []string{"starleaf"}, Sel: sel(nil, false, "company=acme")},
	{Name: "starleaf-all-alternatives", Services: []string{"starleaf"}, Sel: sel(nil, true, "company=acme"),
		Options: target.Options{Options: policy.Options{AllAlternatives: true}}},
	{Name: "starface-all", Services: []string{"starface"}, Sel: sel(nil, true, "pbx_address=192.0.2.10", "sip_provider=198.51.100.0/24", "pbx_peers=203.0.113.180")},
	{Name: "starface-scenario1-v6", Services: []string{"starface"}, Sel: sel([]string{"scenario-1"}, false, "pbx_address=2001:db8:1::10", "sip_provider=2001:db8:2::/64")},
	{Name: "tw-solutions", Services: []string{"tw-solutions"}, Sel: sel(nil, false)},
	{Name: "tw-solutions-any-source", Services: []string{"tw-solutions"}, Sel: sel(nil, false), NoLAN: true},
	{Name: "pexip-sbc-h323", Services: []string{"pexip"}, Sel: sel([]string{"sbc", "h323"}, false,
		"service_network=198.51.100.0/24,2001:db8:2::/64", "sbc_address=192.0.2.20", "sbc_media_ports=36000-59999", "h323_media_ports=40000-49999"),
		Options: target.Options{Options: policy.Options{Optional: true}}},
	{Name: "onsight-all", Services: []string{"onsight"}, Sel: sel(nil, true, "custom_domains=onsight.example.com"),
		Options: target.Options{Options: policy.Options{Optional: true}}},
	{Name: "forward-order", Services: []string{"lab-forwards"}, Sel: sel(nil, false, "pbx_address=192.0.2.10", "sbc_address=192.0.2.20")},
}

// ExampleParams sets every param of the services to its example, or its
// default when it has none, as --param SLUG:NAME=VALUE.
func ExampleParams(svcs ...*model.Service) []string {
	var out []string
	for _, svc := range svcs {
		for _, p := range svc.Params {
			v := p.Example
			if v == "" && p.Default != nil {
				v = *p.Default
			}
			if v != "" {
				out = append(out, svc.Slug()+":"+p.Name+"="+v)
			}
		}
	}
	return out
}

// AllServices is the largest input the catalog gives, for benchmarks:
// every embedded service with every feature on, the profiles' example
// params, names pinned, optional flows in and every alternative open.
func AllServices(t testing.TB) target.Config {
	t.Helper()
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(cat.Services(), resolve.Selection{AllFeatures: true, Params: ExampleParams(cat.Services()...)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := resolve.ParseHosts("pins", strings.NewReader(Pins(t, cs)))
	if err != nil {
		t.Fatal(err)
	}
	return target.Config{Choices: cs, Resolver: h, Site: Site,
		Options: target.Options{Options: policy.Options{Optional: true, AllAlternatives: true}}}
}

type variant struct {
	name string
	r    resolve.Resolver
	opt  policy.Options
}

// Matrix is one input of the syntax matrix.
type Matrix struct {
	Name string
	In   *target.Input
}

// SyntaxMatrix prepares the inputs whose output every packet-filter
// target must load: every service of the embedded catalog with its
// default features, every feature, and each feature alone; in gateway
// and host mode; standalone and --chain-only; names pinned (both
// families) and, for the defaults, not resolved at all; one-of groups
// preferred and all. Params are the profiles' examples.
func SyntaxMatrix(t testing.TB) []Matrix {
	t.Helper()
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	type selection struct {
		name string
		sel  resolve.Selection
	}
	var out []Matrix
	for _, svc := range cat.Services() {
		params := ExampleParams(svc)
		sels := []selection{
			{"defaults", resolve.Selection{Params: params}},
			{"all-features", resolve.Selection{AllFeatures: true, Params: params}},
		}
		for _, f := range svc.Features {
			var without []string
			for _, g := range svc.Features {
				if g.Name != f.Name {
					without = append(without, g.Name)
				}
			}
			sels = append(sels, selection{"only-" + f.Name, resolve.Selection{Features: []string{f.Name}, Without: without, Params: params}})
		}
		for _, s := range sels {
			choices, err := resolve.Choose([]*model.Service{svc}, s.sel)
			if err != nil {
				t.Fatalf("%s %s: %v", svc.Slug(), s.name, err)
			}
			pins, err := resolve.ParseHosts("pins", strings.NewReader(Pins(t, choices)))
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range []policy.Mode{policy.Gateway, policy.Host} {
				site := Site
				if mode == policy.Host {
					site = policy.Site{Mode: policy.Host, LAN: Site.LAN}
				}
				for _, chainOnly := range []bool{false, true} {
					variants := []variant{{"", pins, policy.Options{Optional: true}}}
					if s.name == "defaults" {
						variants = append(variants,
							variant{"/no-resolve", resolve.NoResolve{}, policy.Options{}},
							variant{"/all-alternatives/required-only", pins, policy.Options{AllAlternatives: true, RequiredOnly: true}})
					}
					for _, v := range variants {
						name := fmt.Sprintf("%s/%s/%s", svc.Slug(), s.name, mode)
						if chainOnly {
							name += "/chain-only"
						}
						name += v.name
						in, err := target.Prepare(context.Background(), target.Config{
							Choices: choices, Resolver: v.r, AllowUnresolved: true, Site: site,
							Options:   target.Options{Options: v.opt, ChainOnly: chainOnly, Table: "inet filter"},
							Generated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Version: "test",
						})
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						out = append(out, Matrix{Name: name, In: in})
					}
				}
			}
		}
	}
	return out
}

// HostCase is StarLeaf on the endpoint itself (host mode), with the
// tunnel name pinned in both families, and the probes the endpoint's
// kernel must pass or drop once the rules are loaded on the lab's LAN
// host. The neighbour caches are emptied first, so that IPv6 works only
// if neighbour discovery passes the rules.
func HostCase(t testing.TB) (*target.Input, []Probe) {
	t.Helper()
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := cat.Select([]string{"starleaf"})
	cs, err := resolve.Choose(svcs, resolve.Selection{Params: []string{"company=acme"}})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := resolve.ParseHosts("pins", strings.NewReader("203.0.113.20 acme.call.sl\n2001:db8:3::20 acme.call.sl\n203.0.113.30 config.starleaf.com\n"))
	in, err := target.Prepare(context.Background(), target.Config{
		Choices: cs, Resolver: h, Site: policy.Site{Mode: policy.Host, LAN: Site.LAN}, Generated: time.Unix(0, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort
	a := netip.MustParseAddr
	return in, []Probe{
		{Proto: "tcp", Src: netlab.LANHost, Dst: ap("203.0.113.20:443"), Sink: a("203.0.113.20"), Want: true, Why: "tunnel-https"},
		{Proto: "tcp", Src: netlab.LANHost6, Dst: ap("[2001:db8:3::20]:443"), Sink: a("2001:db8:3::20"), Want: true, Why: "tunnel-https over IPv6, after neighbour discovery"},
		{Proto: "udp", Src: netlab.LANHost6, Dst: ap("[2001:db8:3::20]:24704"), Sink: a("2001:db8:3::20"), Want: true, Why: "tunnel-udp over IPv6"},
		{Proto: "tcp", Src: netlab.LANHost, Dst: ap("203.0.113.30:443"), Sink: a("203.0.113.30"), Want: true, Why: "config-https"},
		{Proto: "tcp", Src: netlab.LANHost, Dst: ap("203.0.113.20:8080"), Sink: a("203.0.113.20"), Want: false, Why: "a port no flow needs"},
		{Proto: "udp", Src: netlab.LANHost, Dst: ap("203.0.113.20:3478"), Sink: a("203.0.113.20"), Want: false, Why: "a non-preferred alternative"},
		{Proto: "tcp", Src: netlab.LANHost6, Dst: ap("[2001:db8:3::30]:443"), Sink: a("2001:db8:3::30"), Want: false, Why: "config.starleaf.com has no IPv6 address pinned"},
		{Proto: "tcp", Inbound: true, Src: netlab.CloudHost, Dst: ap("192.0.2.10:22"), Sink: netlab.LANHost, Want: false, Why: "inbound to the endpoint"},
		{Proto: "udp", Inbound: true, Src: netlab.CloudHost6, Dst: ap("[2001:db8:1::10]:24704"), Sink: netlab.LANHost6, Want: false, Why: "inbound to the endpoint over IPv6"},
	}
}

// FlushNeighbours empties the neighbour caches of the LAN host and the
// router's LAN side.
func FlushNeighbours(t testing.TB, l *netlab.Lab) {
	t.Helper()
	for _, c := range []struct {
		ns   *netlab.NS
		args []string
	}{{l.LAN, []string{"neigh", "flush", "all"}}, {l.LAN, []string{"-6", "neigh", "flush", "all"}}, {l.Router, []string{"-6", "neigh", "flush", "dev", netlab.RouterLANIf}}} {
		if _, err := c.ns.Run("ip", c.args...); err != nil {
			t.Fatal(err)
		}
	}
}

// Prepare builds the input of the embedded catalog's services for a site:
// names pinned by pins (hosts(5) text), or left unresolved when it is
// empty; the generation time fixed so that outputs compare.
func Prepare(t testing.TB, slugs []string, sel resolve.Selection, pins string, site policy.Site, opt target.Options) *target.Input {
	t.Helper()
	return PrepareFrom(t, "", slugs, sel, pins, site, opt)
}

// PrepareFrom is Prepare for the catalog of catalogDir's profiles ("" for
// the embedded one).
func PrepareFrom(t testing.TB, catalogDir string, slugs []string, sel resolve.Selection, pins string, site policy.Site, opt target.Options) *target.Input {
	t.Helper()
	cat, err := catalog.Embedded()
	if catalogDir != "" {
		cat, err = catalog.Open(catalogDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select(slugs)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, sel)
	if err != nil {
		t.Fatal(err)
	}
	var r resolve.Resolver = resolve.NoResolve{}
	if pins != "" {
		if r, err = resolve.ParseHosts("pins", strings.NewReader(pins)); err != nil {
			t.Fatal(err)
		}
	}
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: r, AllowUnresolved: pins == "", Site: site, Options: opt, Generated: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// Large is a catalog of one test service, "large", with flows outbound
// TCP flows, each to a port and a host set of its own of addrs IPv6
// addresses, all distinct and none adjacent (so that no two merge into a
// prefix), in 2001:db8::/32; the config plans it for Site. It is the
// shape of a big site's allow-list: every flow a rule per address in
// iptables, a named set in nftables. With shared, every flow goes to the
// first host set instead: one rule per address that stands for every
// flow.
func Large(t testing.TB, flows, addrs int, shared bool) target.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("service: {slug: large, name: Large, vendor: portolan tests, document: large.txt, language: en}\n")
	b.WriteString("roles:\n  - {name: endpoint, description: an endpoint}\nhosts:\n")
	for i := 0; i < flows; i++ {
		fmt.Fprintf(&b, "  - {name: h%d, description: host set %d, entries: [", i, i)
		for j := 0; j < addrs; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "\"2001:db8:%x:%x::2\"", i, 2*j)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("flows:\n")
	for i := 0; i < flows; i++ {
		h := i
		if shared {
			h = 0
		}
		fmt.Fprintf(&b, "  - {id: f%d, direction: outbound, proto: [tcp], ports: [%d], local: endpoint, remote: [h%d], necessity: required, app: https, purpose: {en: flow %d}, source: {quote: q, line: %d}}\n",
			i, 10000+2*(i%25000), h, i, i+1)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "large.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select([]string{"large"})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, resolve.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	return target.Config{Choices: cs, Site: Site, Generated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}
