// Package squid writes an allow-list for a squid web proxy: the web
// flows' destinations as dstdomain ACLs (a wildcard *.example.com as
// .example.com), literal addresses as dst ACLs, each with its ports, and
// ssl_bump splice for the hosts whose document says no SSL inspection.
// Whether the rest is peeked at or bumped stays the administrator's
// choice. It is a fragment to include in squid.conf.
package squid

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

func init() { target.Register(Target{}) }

// Target is the squid allow-list target.
type Target struct{}

// Name is "squid".
func (Target) Name() string { return "squid" }

// Synopsis describes the output.
func (Target) Synopsis() string {
	return "squid.conf fragment: dstdomain allow-list of the web flows, ssl_bump splice where inspection must stay off"
}

// Resolves is false: squid resolves names itself.
func (Target) Resolves() bool { return false }

// WebFlow reports whether a flow is one for the web proxy: outbound TCP
// that goes via the proxy, is HTTP(S), or reaches wildcard domains.
func WebFlow(f *resolve.Concrete) bool {
	if f.Direction != model.Outbound || f.Proto != model.TCP {
		return false
	}
	return f.Via == "proxy" || f.App == "http" || f.App == "https" || len(f.Wildcards) > 0
}

// group is the destinations of one port set.
type group struct {
	ports   model.PortSet
	domains []string // dstdomain entries
	nets    []netip.Prefix
	flows   []string // comment lines
}

// Write writes the fragment.
func (Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	var res target.Result
	var groups []*group
	find := func(ps model.PortSet) *group {
		for _, g := range groups {
			if g.ports.Equal(ps) {
				return g
			}
		}
		g := &group{ports: ps}
		groups = append(groups, g)
		return g
	}
	var left leftOut
	for i := range in.Flows {
		f := &in.Flows[i]
		if !WebFlow(f) {
			left.add(f)
			continue
		}
		doms, nets, any, err := dests(f.Dest)
		if err != nil {
			return res, fmt.Errorf("%s: %v", target.FlowRef(f), err)
		}
		if any {
			res.Notes = append(res.Notes, fmt.Sprintf("skipped: %s: any destination on port %s: nothing to allow-list; the proxy must let it through", target.FlowRef(f), f.Ports))
			continue
		}
		if len(doms) == 0 && len(nets) == 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("skipped: %s: no destination a proxy sees (%s): it stays inside the LAN", target.FlowRef(f), strings.Join(f.Dest, ", ")))
			continue
		}
		ps := f.Ports
		if !in.Options.AllAlternatives {
			ps = f.Preferred()
		}
		res.Notes = append(res.Notes, widened(target.FlowRef(f), f.Dest)...)
		g := find(ps)
		g.domains = append(g.domains, doms...)
		g.nets = append(g.nets, nets...)
		line := fmt.Sprintf("%s (%s, %s): %s — %s", target.FlowRef(f), f.Necessity, target.SourceRef(f.Source), strings.Join(f.Dest, " "), f.Purpose)
		g.flows = append(g.flows, line)
	}
	for _, s := range in.Excluded {
		if WebFlow(s.Flow) {
			res.Notes = append(res.Notes, "skipped: "+target.FlowRef(s.Flow)+": "+s.Reason)
		}
	}
	res.Notes = append(res.Notes, left.notes()...)

	var b strings.Builder
	in.WriteHeader(&b, "portolan rules for squid: an allow-list fragment for squid.conf")
	b.WriteString("#\n")
	line(&b, "Include it before your final http_access deny all (Debian's squid.conf includes /etc/squid/conf.d/*.conf at the right place). The http_access lines below allow these destinations and ports without authentication; to require your login, use the ACLs in your own rules instead (http_access allow yourauth portolan_443_dom). CONNECT to ports other than 443 must also pass your SSL_ports rule.")
	line(&b, "A wildcard *.example.com is written .example.com, which squid also matches for example.com itself. dstdomain -n: no reverse lookup of requests for bare addresses.")
	line(&b, "ssl_bump: the splice lines keep TLS inspection off for the names and networks the documents ask for; peek, stare or bump for the rest is your configuration's.")
	writeConstraints(&b, in)
	if len(res.Notes) > 0 {
		b.WriteString("#\n# Not in the list, and why:\n")
		for _, n := range res.Notes {
			for _, l := range target.Wrap("#   ", n, 100) {
				b.WriteString(l + "\n")
			}
		}
	}
	b.WriteString("\n")
	for _, g := range groups {
		name := "portolan_" + strings.ReplaceAll(g.ports.String(), ",", "_")
		for _, fl := range g.flows {
			for _, l := range target.Wrap("# ", fl, 100) {
				b.WriteString(l + "\n")
			}
		}
		fmt.Fprintf(&b, "acl %s_port port %s\n", name, strings.Join(g.ports.Strings(), " "))
		res.Stats.PortSets++
		res.Stats.Ports += len(g.ports.Ranges())
		if doms := Domains(g.domains); len(doms) > 0 {
			fmt.Fprintf(&b, "acl %s_dom dstdomain -n %s\n", name, strings.Join(doms, " "))
			fmt.Fprintf(&b, "http_access allow %s_port %s_dom\n", name, name)
			res.Stats.Rules++
			res.Stats.Names += len(doms)
		}
		if nets := merge(g.nets); len(nets) > 0 {
			fmt.Fprintf(&b, "acl %s_net dst %s\n", name, strings.Join(nets, " "))
			fmt.Fprintf(&b, "http_access allow %s_port %s_net\n", name, name)
			res.Stats.Rules++
			res.Stats.Elements += len(nets)
		}
		b.WriteString("\n")
	}
	notes, err := splice(&b, in, &res.Stats)
	if err != nil {
		return res, err
	}
	res.Notes = append(res.Notes, notes...)
	_, err = io.WriteString(w, b.String())
	return res, err
}

// leftOut gathers the flows that are not for a web proxy, by reason, so
// that the output says what it leaves out as rules does, a line per
// reason rather than per flow.
type leftOut struct {
	reasons []string
	flows   map[string][]string
}

func (l *leftOut) add(f *resolve.Concrete) {
	var why string
	switch {
	case f.Direction != model.Outbound:
		why = "inbound, which a web proxy does not carry (it carries the site's own requests); --target nftables or iptables writes them"
	case f.Proto != model.TCP && len(f.Wildcards) > 0 && len(f.Wildcards) == len(f.Dest):
		why = fmt.Sprintf("%s to wildcard domains only (%s), which neither a web proxy nor an address list can allow; a DNS-aware firewall can", strings.ToUpper(f.Proto), strings.Join(f.Wildcards, ", "))
	case f.Proto != model.TCP:
		why = fmt.Sprintf("%s, which a web proxy does not carry (it carries TCP); --target nftables or iptables writes them", strings.ToUpper(f.Proto))
	default:
		why = "not web traffic (neither HTTP(S) nor meant for the proxy); --target nftables or iptables writes them"
	}
	if l.flows == nil {
		l.flows = map[string][]string{}
	}
	if _, ok := l.flows[why]; !ok {
		l.reasons = append(l.reasons, why)
	}
	l.flows[why] = append(l.flows[why], target.FlowRef(f))
}

func (l *leftOut) notes() []string {
	var out []string
	for _, why := range l.reasons {
		out = append(out, "skipped: "+strings.Join(l.flows[why], ", ")+": "+why)
	}
	return out
}

// dests sorts host entries into dstdomain entries (a wildcard
// *.example.com as .example.com) and networks; any reports an "any".
func dests(entries []string) (doms []string, nets []netip.Prefix, any bool, err error) {
	for _, d := range entries {
		e, err := model.ParseEntry(d)
		if err != nil {
			return nil, nil, false, err
		}
		switch e.Kind {
		case model.EntryName:
			doms = append(doms, e.Domain)
		case model.EntryWildcard, model.EntryGlob:
			doms = append(doms, "."+e.Domain) // a pattern widens: see widened

		case model.EntryAddr, model.EntryPrefix:
			nets = append(nets, e.Prefix)
		case model.EntryAny:
			any = true
		}
	}
	return doms, nets, any, nil
}

// widened says, for the host-name patterns among entries, the domain
// dstdomain allows instead: it takes whole names or a domain with
// everything below it, nothing in between.
func widened(ref string, entries []string) []string {
	var out []string
	for _, d := range entries {
		if e, err := model.ParseEntry(d); err == nil && e.Kind == model.EntryGlob {
			out = append(out, fmt.Sprintf("widened: %s: %s is allowed as .%s (dstdomain cannot say a pattern inside a label)", ref, d, e.Domain))
		}
	}
	return out
}

// splice writes ssl_bump splice for the hosts of ssl-inspection-off
// constraints.
func splice(b *strings.Builder, in *target.Input, st *target.Stats) ([]string, error) {
	var notes, doms []string
	var nets []netip.Prefix
	var refs []string
	for _, c := range in.Constraints {
		if c.Kind != model.KindSSLInspectionOff {
			continue
		}
		refs = append(refs, target.ConstraintRef(c)+": "+c.Purpose)
		d, n, any, err := dests(c.Hosts)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %v", c.Service, c.ID, err)
		}
		if any {
			notes = append(notes, fmt.Sprintf("skipped: %s/%s: no SSL inspection for any destination: splice everything or nothing on your own terms", c.Service, c.ID))
		}
		notes = append(notes, widened(c.Service+"/"+c.ID, c.Hosts)...)
		doms, nets = append(doms, d...), append(nets, n...)
	}
	if len(doms) == 0 && len(nets) == 0 {
		return notes, nil
	}
	b.WriteString("# No TLS inspection (splice) for:\n")
	for _, r := range refs {
		for _, l := range target.Wrap("#   ", r, 100) {
			b.WriteString(l + "\n")
		}
	}
	if ds := Domains(doms); len(ds) > 0 {
		fmt.Fprintf(b, "acl portolan_nobump_dom ssl::server_name %s\n", strings.Join(ds, " "))
		b.WriteString("ssl_bump splice portolan_nobump_dom\n")
		st.Rules++
		st.Names += len(ds)
	}
	if ns := merge(nets); len(ns) > 0 {
		fmt.Fprintf(b, "acl portolan_nobump_net dst %s\n", strings.Join(ns, " "))
		b.WriteString("ssl_bump splice portolan_nobump_net\n")
		st.Rules++
		st.Elements += len(ns)
	}
	return notes, nil
}

// Domains sorts and dedupes dstdomain entries and drops those a ".domain"
// entry already covers, which squid warns about.
func Domains(ds []string) []string {
	var wild []string
	for _, d := range ds {
		if strings.HasPrefix(d, ".") {
			wild = append(wild, d)
		}
	}
	var out []string
	for _, d := range ds {
		covered := false
		for _, w := range wild {
			if d != w && (d == w[1:] || strings.HasSuffix(d, w)) {
				covered = true
			}
		}
		if !covered && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// merge writes prefixes merged, as squid's dst ACL takes them.
func merge(ps []netip.Prefix) []string {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p)
	}
	s, _ := b.IPSet()
	var out []string
	for _, p := range s.Prefixes() {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return out
}

func writeConstraints(b *strings.Builder, in *target.Input) {
	var lines []string
	for _, c := range in.Constraints {
		var act string
		switch c.Kind {
		case model.KindProxyAuth:
			act = fmt.Sprintf("offer %s authentication to these clients", strings.Join(c.Allowed, " or "))
			if len(c.Allowed) > 0 {
				act += " (auth_param " + c.Allowed[0] + ")"
			}
			if len(c.Refused) > 0 {
				act += "; " + strings.Join(c.Refused, ", ") + " are not supported"
			}
		case model.KindTLSMin:
			act = fmt.Sprintf("where you bump, keep TLS %s or later towards the server (tls_outgoing_options min-version=%s) on ports %s", c.MinVersion, c.MinVersion, strings.Join(c.Ports, ", "))
		case model.KindSSLInspectionOff:
			act = "spliced below"
		case model.KindViaProxy:
			act = "allowed below"
		default:
			continue
		}
		lines = append(lines, target.ConstraintRef(c)+": "+c.Purpose+" — "+act+".")
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("#\n# Constraints for the proxy:\n")
	for _, l := range lines {
		for _, w := range target.Wrap("#   ", l, 100) {
			b.WriteString(w + "\n")
		}
	}
}

func line(b *strings.Builder, text string) {
	for _, l := range target.Wrap("# ", text, 100) {
		b.WriteString(l + "\n")
	}
}
