package ufw_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
)

// opening is what one rule opens, in plain values: hook (forward, input,
// output, dnat), family, protocol, interfaces, one source and one
// destination prefix ("any"), source ports, the flow it is for and, for
// a port forward, where it goes.
type opening struct {
	hook, proto, iif, oif, src, dst, sport, flow, to string
	family                                           int
}

// opens merges the ports of the openings of the same key.
type opens struct {
	keys  []opening
	ports map[opening]model.PortSet
}

func (o *opens) add(k opening, ps model.PortSet) {
	if o.ports == nil {
		o.ports = map[opening]model.PortSet{}
	}
	old, ok := o.ports[k]
	if !ok {
		o.keys = append(o.keys, k)
	}
	for _, r := range ps.Ranges() {
		old = old.Add(r)
	}
	o.ports[k] = old
}

func (o *opens) lines() []string {
	var out []string
	for _, k := range o.keys {
		s := fmt.Sprintf("%s ipv%d %s %s %s>%s from %s to %s sport %s (%s)", k.hook, k.family, k.proto, o.ports[k], k.iif, k.oif, k.src, k.dst, k.sport, k.flow)
		if k.to != "" {
			s += " forward to " + k.to
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// summary merges by hook, family and protocol: the ports and the remote
// side's prefixes (any when one rule takes any address), in plain values.
func (o *opens) summary() []string {
	type key struct {
		hook, proto string
		family      int
	}
	type val struct {
		ports model.PortSet
		b     netipx.IPSetBuilder
		any   bool
		to    []string
	}
	vals := map[key]*val{}
	var keys []key
	for _, k := range o.keys {
		kk := key{k.hook, k.proto, k.family}
		v, ok := vals[kk]
		if !ok {
			v = &val{}
			vals[kk] = v
			keys = append(keys, kk)
		}
		for _, r := range o.ports[k].Ranges() {
			v.ports = v.ports.Add(r)
		}
		remote := k.dst
		if k.hook == "input" || k.hook == "dnat" || k.iif == targettest.Site.WANIf {
			remote = k.src
		}
		if remote == "any" {
			v.any = true
		} else {
			v.b.AddPrefix(netip.MustParsePrefix(remote))
		}
		if k.to != "" && !slices.Contains(v.to, k.to) {
			v.to = append(v.to, k.to)
		}
	}
	var out []string
	for _, k := range keys {
		v := vals[k]
		r := "any"
		if !v.any {
			set, _ := v.b.IPSet()
			var ps []string
			for _, p := range set.Prefixes() {
				ps = append(ps, p.String())
			}
			r = strings.Join(ps, ",")
		}
		s := fmt.Sprintf("%s ipv%d %s %s remote %s", k.hook, k.family, k.proto, v.ports, r)
		if len(v.to) > 0 {
			sort.Strings(v.to)
			s += " to " + strings.Join(v.to, ",")
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// planOpens is the plan's reading: every rule whose addresses are known,
// one opening per source and destination prefix.
func planOpens(in *target.Input) *opens {
	o := &opens{}
	for i := range in.Rules {
		r := &in.Rules[i]
		m := r.Match
		srcs, dsts := pfxs(m.SrcAddrs(), m.AnySrc()), pfxs(m.DstAddrs(), m.AnyDst())
		sport := "any"
		if !m.SrcPorts.Empty() {
			sport = m.SrcPorts.String()
		}
		for _, s := range srcs {
			for _, d := range dsts {
				k := opening{hook: string(r.Hook), family: m.Family, proto: m.Proto, iif: m.IIf, oif: m.OIf, src: s, dst: d, sport: sport, flow: target.RuleComment(r)}
				if r.Hook == policy.Prerouting {
					k.hook, k.oif, k.dst, k.to = "dnat", "", "any", r.DNAT.String()
				}
				o.add(k, m.DstPorts)
			}
		}
	}
	return o
}

func pfxs(ps []netip.Prefix, any bool) []string {
	if any {
		return []string{"any"}
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Masked().String())
	}
	return out
}

// dnatLine is a port forward of the header's before.rules lines.
var dnatLine = regexp.MustCompile(`^#     -A PORTOLAN-PREROUTING(?: -i (\S+))?(?: -s (\S+))? -p (tcp|udp) (?:--dport|-m multiport --dports) ([0-9:,]+) -m comment --comment "([^"]*)" -j DNAT --to-destination (\S+)$`)

// readOpens reads back what ufw stored after the script ran, and the
// port forwards of the script's header.
func readOpens(t testing.TB, r root, script string) *opens {
	t.Helper()
	o := &opens{}
	for _, tp := range r.tuples(t) {
		if tp.Action != "allow" && tp.Action != "route:allow" {
			t.Errorf("ufw holds a rule portolan does not write: %+v", tp)
			continue
		}
		if !strings.HasPrefix(tp.DApp, "portolan-") {
			t.Errorf("a rule without a portolan profile: %+v", tp)
		}
		k := opening{family: tp.Family, proto: tp.Proto, iif: tp.IIf, oif: tp.OIf, src: prefix(t, tp.Src), dst: prefix(t, tp.Dst), sport: "any", flow: tp.Comment}
		if tp.SPort != "any" {
			k.sport = ports(t, tp.SPort).String()
		}
		switch {
		case tp.Action == "route:allow":
			k.hook = string(policy.Forward)
		case tp.Dir == "in":
			k.hook = string(policy.Input)
		default:
			k.hook = string(policy.Output)
		}
		o.add(k, ports(t, tp.DPort))
	}
	fam := 0
	for _, l := range strings.Split(script, "\n") {
		switch l {
		case "#   /etc/ufw/before.rules:":
			fam = 4
		case "#   /etc/ufw/before6.rules:":
			fam = 6
		}
		m := dnatLine.FindStringSubmatch(l)
		if m == nil {
			if strings.Contains(l, "-A PORTOLAN-PREROUTING") {
				t.Errorf("a port forward line the test cannot read: %s", l)
			}
			continue
		}
		src := "any"
		if m[2] != "" {
			src = netip.MustParsePrefix(m[2]).Masked().String()
		}
		o.add(opening{hook: "dnat", family: fam, proto: m[3], iif: m[1], src: src, dst: "any", sport: "any", flow: m[5], to: m[6]}, ports(t, m[4]))
	}
	return o
}

// TestOpensEqualPlan states, for each seed service, which ports and
// prefixes ufw opens once the script ran (read back from the rules ufw
// stores, user.rules and user6.rules, and the port forwards the header
// gives for before.rules), and that they are the plan's, prefix by
// prefix and flow by flow.
func TestOpensEqualPlan(t *testing.T) {
	lab := targettest.LabCatalog(t)
	want := map[string][]string{
		"starleaf": {
			"forward ipv4 tcp 443 remote 203.0.113.200/31",
			"forward ipv4 udp 24704 remote 203.0.113.200/32",
			"forward ipv6 tcp 443 remote 2001:db8:3::200/127",
			"forward ipv6 udp 24704 remote 2001:db8:3::200/128",
		},
		"starleaf-all-alternatives": {
			"forward ipv4 tcp 443 remote any",
			"forward ipv4 udp 123,500,1194,3478,16384-24575,24704 remote any",
			"forward ipv6 tcp 443 remote any",
			"forward ipv6 udp 123,500,1194,3478,16384-24575,24704 remote any",
		},
		"starface-all": {
			"dnat ipv4 tcp 443,3090,5061,5222,50080-50081 remote any to 192.0.2.10",
			"dnat ipv4 udp 3090,5060,10000-20000 remote any to 192.0.2.10",
			"forward ipv4 tcp 1-65535 remote any",
			"forward ipv4 udp 1-65535 remote any",
			"forward ipv6 tcp 443 remote 2001:db8:3::201/128",
		},
		"starface-scenario1-v6": {
			"dnat ipv6 tcp 5061 remote 2001:db8:2::/64 to 2001:db8:1::10",
			"dnat ipv6 udp 5060,10000-20000 remote any to 2001:db8:1::10",
			"forward ipv6 tcp 53,80,443,5060-5061,8383 remote any",
			"forward ipv6 udp 53,123,1025-65535 remote any",
		},
		"tw-solutions": {
			"forward ipv4 tcp 80,443,5938 remote any",
			"forward ipv4 udp 123,5060-5080,5938,10000-60000 remote any",
			"forward ipv6 tcp 80,443,5938 remote any",
			"forward ipv6 udp 123,5938,10000-60000 remote any",
		},
		"tw-solutions-any-source": {
			"forward ipv4 tcp 80,443,5938 remote any",
			"forward ipv4 udp 123,5060-5080,5938,10000-60000 remote any",
			"forward ipv6 tcp 80,443,5938 remote any",
			"forward ipv6 udp 123,5938,10000-60000 remote any",
		},
		"pexip-sbc-h323": {
			"dnat ipv4 tcp 5061 remote 198.51.100.0/24 to 192.0.2.20",
			"dnat ipv4 udp 36000-59999 remote 198.51.100.0/24 to 192.0.2.20",
			"forward ipv4 tcp 443,1720,5061 remote 198.51.100.0/24,203.0.113.166/32,203.0.113.200/32",
			"forward ipv4 udp 36000-59999 remote 198.51.100.0/24,203.0.113.166/32",
			"forward ipv6 tcp 443,1720 remote 2001:db8:2::/64,2001:db8:3::200/128",
			"forward ipv6 udp 40000-49999 remote 2001:db8:2::/64",
		},
		"onsight-all": {
			"forward ipv4 tcp 80,443,2197,5060-5061,5223,5228-5230 remote any",
			"forward ipv4 udp 3478,6000-6199,15000-65000 remote any",
			"forward ipv6 tcp 443,5060-5061,5228-5230 remote any",
			"forward ipv6 udp 3478,6000-6199,58024,58523 remote any",
		},
		"forward-order": {
			"dnat ipv4 tcp 5060-5061 remote any to 192.0.2.10,192.0.2.20",
			"dnat ipv4 udp 5060-5061 remote any to 192.0.2.10,192.0.2.20",
			"forward ipv4 tcp 5060-5061 remote any",
			"forward ipv4 udp 5060-5061 remote any",
		},
	}
	for _, c := range targettest.GatewayCases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			in, _ := c.Input(t, lab)
			script, _ := generate(t, in)
			r := newRoot(t)
			r.apply(t, nil, script)
			got, plan := readOpens(t, r, script), planOpens(in)
			if g, p := got.lines(), plan.lines(); !slices.Equal(g, p) {
				t.Errorf("ufw opens\n  %s\nthe plan\n  %s", strings.Join(g, "\n  "), strings.Join(p, "\n  "))
			}
			if s := got.summary(); !slices.Equal(s, want[c.Name]) {
				t.Errorf("opens, by hook and protocol:\n\t\t%q", s)
			}
		})
	}
}

// TestHostOpensEqualPlan is the same for host mode (StarLeaf on the
// endpoint, both families), and undo: the same script with undo leaves
// no rule and no profile.
func TestHostOpensEqualPlan(t *testing.T) {
	in, _ := targettest.HostCase(t)
	script, _ := generate(t, in)
	r := newRoot(t)
	r.apply(t, nil, script)
	got, plan := readOpens(t, r, script), planOpens(in)
	if g, p := got.lines(), plan.lines(); !slices.Equal(g, p) {
		t.Errorf("ufw opens\n  %s\nthe plan\n  %s", strings.Join(g, "\n  "), strings.Join(p, "\n  "))
	}
	want := []string{
		"output ipv4 tcp 443 remote 203.0.113.20/32,203.0.113.30/32",
		"output ipv4 udp 24704 remote 203.0.113.20/32",
		"output ipv6 tcp 443 remote 2001:db8:3::20/128",
		"output ipv6 udp 24704 remote 2001:db8:3::20/128",
	}
	if s := got.summary(); !slices.Equal(s, want) {
		t.Errorf("opens, by hook and protocol:\n\t\t%q", s)
	}
	// Applying twice adds nothing.
	m := len(r.tuples(t))
	r.apply(t, nil, script)
	if n := len(r.tuples(t)); n != m {
		t.Errorf("after a second run ufw holds %d rules, want %d", n, m)
	}
	r.apply(t, nil, script, "undo")
	if tp := r.tuples(t); len(tp) != 0 {
		t.Errorf("after undo ufw still holds %d rules: %+v", len(tp), tp)
	}
	if _, err := os.Stat(filepath.Join(string(r), "ufw/applications.d/portolan")); !os.IsNotExist(err) {
		t.Errorf("after undo the profile file is still there (%v)", err)
	}
}
