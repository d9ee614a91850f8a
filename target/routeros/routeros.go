// Package routeros writes the policy as a MikroTik RouterOS v7 script for
// /import (target "routeros") and reads a RouterOS /export (or such a
// script) back for the audit (format "routeros").
//
// The script adds, per address family (/ip and /ipv6 firewall):
//
//   - address lists (/ip firewall address-list): one per host set of a
//     service and family, portolan-SERVICE-HOSTSET-v4, holding the host
//     set's addresses, prefixes and ranges and, unless --resolve-names,
//     its DNS names: RouterOS resolves a name in address= itself and
//     keeps its addresses as dynamic entries of the list;
//   - filter rules in chain forward (or portolan-forward with
//     --chain-only): accept established and related, drop invalid, one
//     accept per flow, protocol, address list and port list, and a final
//     drop; in-interface and out-interface are --lan-if and --wan-if
//     (default bridge and ether1, the default configuration's);
//   - dst-nat rules in chain dstnat (portolan-dstnat with --chain-only)
//     for port forwards, with the forward rule that accepts them;
//   - the constraints as commands: the SIP (and H.323) helper off in
//     /ip firewall service-port, connection tracking UDP timeouts raised
//     to the document's minimum, never lowered.
//
// Every item carries a comment "portolan: service/flow document:line",
// and the script starts each menu by removing the items whose comment
// starts with "portolan:", so that importing it again replaces rather
// than duplicates. RouterOS runs only on MikroTik's hardware and CHR: no
// validator runs here, so the tests check the output against the
// documented grammar (grammar_test.go, with the pages' addresses) and
// read it back with Parse.
package routeros

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

func init() {
	target.Register(&Target{})
}

// Defaults of --lan-if and --wan-if: the LAN bridge and the WAN port of
// RouterOS's default configuration.
const (
	DefaultLAN = "bridge"
	DefaultWAN = "ether1"
)

// Limits portolan keeps. RouterOS documents no length limit for list
// names and comments; portolan keeps list names to 63 characters of
// [A-Za-z0-9_-] and comments to 255 bytes, which every RouterOS version
// takes, and port lists to 15 ports (a range counts as two), the
// netfilter multiport bound that RouterOS's firewall is built on.
const (
	ListNameMax = 63
	CommentMax  = 255
	PortListMax = 15
)

// Chain names with --chain-only.
const (
	ChainForward = "portolan-forward"
	ChainDstNAT  = "portolan-dstnat"
)

// CommentPrefix starts the comment of every item the script adds; the
// script removes the items whose comment starts with it first.
const CommentPrefix = "portolan: "

// Target writes RouterOS scripts.
type Target struct{}

// Name is "routeros".
func (*Target) Name() string { return "routeros" }

// Synopsis describes the output.
func (*Target) Synopsis() string {
	return "a MikroTik RouterOS v7 script for /import: address lists (DNS names kept), /ip and /ipv6 firewall filter and nat"
}

// Resolves is --resolve-names: RouterOS resolves names in address lists itself.
func (*Target) Resolves() bool { return target.ResolveNames }

// Flags adds --resolve-names.
func (*Target) Flags(fs *pflag.FlagSet) { target.ResolveNamesFlag(fs) }

// CheckSite refuses host mode: the script filters what the router
// forwards; the router is not the VoIP endpoint.
func (*Target) CheckSite(site policy.Site, opt target.Options) error {
	if site.Mode == policy.Host {
		return fmt.Errorf("--target routeros writes a gateway's rules (chain forward and dstnat of the router): --mode host would filter the router's own traffic, and no VoIP endpoint runs on RouterOS; use --mode gateway")
	}
	return nil
}

// allowedName is the character set of the list names portolan writes.
func allowedName(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// menu returns the menu of family fam: "ip" or "ipv6".
func menu(fam int) string {
	if fam == 6 {
		return "ipv6"
	}
	return "ip"
}

// list is one address list of one family.
type list struct {
	fam     int
	name    string
	entries []string
	key     string
	comment string
}

// line is one add command, its comment and the # lines above it.
type line struct {
	args    string
	comment string
	above   []string
}

type gen struct {
	in      *target.Input
	lanIf   string
	wanIf   string
	lists   map[int][]*list
	byName  map[string]*list // fam/name
	filter  map[int][]line
	nat     map[int][]line
	stats   target.Stats
	notes   []string
	forward string
	dstnat  string
}

// Write writes the script.
func (t *Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	if err := t.CheckSite(in.Site, in.Options); err != nil {
		return target.Result{}, err
	}
	g := &gen{in: in, lists: map[int][]*list{}, byName: map[string]*list{}, filter: map[int][]line{}, nat: map[int][]line{},
		notes: in.Notes(), lanIf: in.Site.LANIf, wanIf: in.Site.WANIf, forward: "forward", dstnat: "dstnat"}
	if g.lanIf == "" {
		g.lanIf = DefaultLAN
	}
	if g.wanIf == "" {
		g.wanIf = DefaultWAN
	}
	if in.Options.ChainOnly {
		g.forward, g.dstnat = ChainForward, ChainDstNAT
	}
	if !target.ResolveNames {
		// names stay names, which the router resolves: a name without an
		// address here is not left out
		g.notes = slices.DeleteFunc(g.notes, func(n string) bool {
			return strings.HasPrefix(n, "warning: ") && strings.Contains(n, ": no address")
		})
	}
	for i := range in.Rules {
		if err := g.rule(&in.Rules[i]); err != nil {
			return target.Result{}, err
		}
	}
	var b strings.Builder
	g.write(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return target.Result{}, err
	}
	return target.Result{Stats: g.stats, Notes: g.notes}, nil
}

// side is one way to write one side of a rule: nothing (any address),
// one address, or an address list.
type side struct {
	addr string
	list string
}

func (s side) args(dir string) string {
	switch {
	case s.addr != "":
		return " " + dir + "-address=" + s.addr
	case s.list != "":
		return " " + dir + "-address-list=" + s.list
	}
	return ""
}

// addList records an address list and returns its name: the same
// entries under the same name are one list; other entries under a name
// taken get a suffix.
func (g *gen) addList(fam int, base string, entries []string, comment string) string {
	key := strings.Join(entries, " ")
	name := base
	for i := 2; ; i++ {
		l := g.byName[fmt.Sprint(fam, "/", name)]
		if l == nil {
			break
		}
		if l.key == key {
			return name
		}
		suffix := fmt.Sprintf("-%d", i)
		name = target.ObjectName(ListNameMax-len(suffix), allowedName, base) + suffix
	}
	l := &list{fam: fam, name: name, entries: entries, key: key, comment: comment}
	g.byName[fmt.Sprint(fam, "/", name)] = l
	g.lists[fam] = append(g.lists[fam], l)
	g.stats.Sets++
	g.stats.Elements += len(entries)
	return name
}

// elements writes prefixes merged, as RouterOS takes them: addresses,
// prefixes and ranges a-b.
func elements(ps []netip.Prefix) []string {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p.Masked())
	}
	s, _ := b.IPSet()
	return target.Elements(s)
}

// remoteSides are the ways to write a rule's remote side: one per host
// set (an address, or a list), or any.
func (g *gen) remoteSides(r *policy.Rule) ([]side, error) {
	sets, err := g.in.Remote(r)
	if err != nil {
		return nil, err
	}
	if sets == nil {
		return []side{{}}, nil
	}
	fam := r.Match.Family
	var out []side
	for _, s := range sets {
		var entries []string
		names := 0
		if target.ResolveNames {
			entries = target.Elements(s.IPSet())
		} else {
			entries = elements(s.Literal)
			for _, n := range s.NameList() {
				entries = append(entries, n)
				names++
			}
		}
		if len(entries) == 0 {
			continue
		}
		if len(entries) == 1 && names == 0 {
			if entries[0] == "0.0.0.0/0" || entries[0] == "::/0" {
				return []side{{}}, nil
			}
			out = append(out, side{addr: entries[0]})
			continue
		}
		what := fmt.Sprintf("%s host set %s (%s)", s.Service, s.HostSet, strings.Join(s.FamilyEntries(), ", "))
		if names > 0 && !target.ResolveNames {
			what += "; RouterOS resolves the names itself"
		} else if len(s.Names) > 0 {
			what += "; names " + s.Resolved() + ", regenerate to refresh"
		}
		base := target.ObjectName(ListNameMax, allowedName, "portolan", s.Service, s.HostSet, fmt.Sprintf("v%d", fam))
		out = append(out, side{list: g.addList(fam, base, entries, what)})
	}
	return out, nil
}

// localSide writes the rule's local side: the LAN or the role's address.
func (g *gen) localSide(r *policy.Rule) side {
	ps := target.LocalSide(r)
	if len(ps) == 0 {
		return side{}
	}
	es := elements(ps)
	if len(es) == 1 {
		if es[0] == "0.0.0.0/0" || es[0] == "::/0" {
			return side{}
		}
		return side{addr: es[0]}
	}
	fam := r.Match.Family
	base := target.ObjectName(ListNameMax, allowedName, "portolan", "lan", fmt.Sprintf("v%d", fam))
	var lan []netip.Prefix
	for _, p := range g.in.Site.LAN {
		if (fam == 4) == p.Addr().Unmap().Is4() {
			lan = append(lan, p)
		}
	}
	what := "the site's LAN (--lan)"
	if !slices.Equal(elements(lan), es) {
		base = target.ObjectName(ListNameMax, allowedName, "portolan", r.Flow.Service, r.Flow.ID, "local", fmt.Sprintf("v%d", fam))
		what = "the site's side of " + target.FlowRef(r.Flow)
	}
	return side{list: g.addList(fam, base, es, what)}
}

// portLists splits a port set into RouterOS port lists.
func portLists(ps model.PortSet) []string {
	var out []string
	var cur []string
	n := 0
	for _, r := range ps.Ranges() {
		w, s := 1, fmt.Sprint(r.Lo)
		if r.Hi != r.Lo {
			w, s = 2, fmt.Sprintf("%d-%d", r.Lo, r.Hi)
		}
		if n+w > PortListMax {
			out = append(out, strings.Join(cur, ","))
			cur, n = nil, 0
		}
		cur = append(cur, s)
		n += w
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, ","))
	}
	return out
}

func (g *gen) rule(r *policy.Rule) error {
	m := r.Match
	fam := m.Family
	remote, err := g.remoteSides(r)
	if err != nil {
		return err
	}
	if len(remote) == 0 {
		var names []string
		for _, n := range append(slices.Clone(m.SrcNames), m.DstNames...) {
			names = append(names, n.Name)
		}
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d %s rule: %s have no IPv%d address yet (--resolve-names); regenerate once they resolve, or leave names to RouterOS", target.FlowRef(r.Flow), fam, r.Hook, strings.Join(names, ", "), fam))
		return nil
	}
	local := g.localSide(r)
	outbound := target.IsOutbound(r)
	iif, oif := m.IIf, m.OIf
	switch r.Hook {
	case policy.Forward:
		if iif == "" && oif == "" {
			iif, oif = g.lanIf, g.wanIf
			if !outbound {
				iif, oif = g.wanIf, g.lanIf
			}
		}
	case policy.Prerouting:
		if iif == "" {
			iif = g.wanIf
		}
	default:
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: a %s rule has no place in a gateway's script", target.FlowRef(r.Flow), r.Hook))
		return nil
	}
	sports := []string{""}
	if !m.SrcPorts.Empty() {
		sports = portLists(m.SrcPorts)
	}
	dports := []string{""}
	if !m.DstPorts.Empty() {
		dports = portLists(m.DstPorts)
	}
	above := g.in.FlowComments(r)
	comment := CommentPrefix + target.RuleComment(r)
	for _, rem := range remote {
		src, dst := local, rem
		if !outbound {
			src, dst = rem, local
		}
		if r.Hook == policy.Prerouting {
			// the port forward matches the remote side and the router's
			// own address, whatever the plan's destination
			dst = side{}
			if len(m.Dst) > 0 || len(m.DstNames) > 0 {
				es := elements(m.DstAddrs())
				if len(es) == 1 {
					dst = side{addr: es[0]}
				}
			}
		}
		for _, sp := range sports {
			for _, dp := range dports {
				var b strings.Builder
				chain, action := g.forward, "accept"
				if r.Hook == policy.Prerouting {
					chain, action = g.dstnat, "dst-nat"
				}
				fmt.Fprintf(&b, "chain=%s action=%s protocol=%s", chain, action, m.Proto)
				b.WriteString(src.args("src"))
				b.WriteString(dst.args("dst"))
				if sp != "" {
					b.WriteString(" src-port=" + sp)
				}
				if dp != "" {
					b.WriteString(" dst-port=" + dp)
				}
				if iif != "" {
					b.WriteString(" in-interface=" + iif)
				}
				if oif != "" && r.Hook == policy.Forward {
					b.WriteString(" out-interface=" + oif)
				}
				if r.Hook == policy.Prerouting {
					b.WriteString(" to-addresses=" + r.DNAT.Unmap().String())
				}
				l := line{args: b.String(), comment: comment, above: above}
				for _, pl := range []string{sp, dp} {
					if strings.Contains(pl, ",") {
						g.stats.PortSets++
						g.stats.Ports += strings.Count(pl, ",") + 1
					}
				}
				g.stats.Rules++
				if r.Hook == policy.Prerouting {
					g.stats.DNAT++
					g.nat[fam] = append(g.nat[fam], l)
				} else {
					g.filter[fam] = append(g.filter[fam], l)
				}
			}
		}
	}
	return nil
}

// commentArg is the comment= argument of an item.
func commentArg(s string) string {
	// Quotable: no " or \ at all, one line; Quote escapes $ and ?
	return "comment=" + Quote(target.Quotable(s, CommentMax))
}

func comment(b *strings.Builder, text string) {
	for _, l := range target.Wrap("# ", text, 100) {
		b.WriteString(l + "\n")
	}
}

const removeOwn = `remove [find where comment~"^portolan:" and dynamic=no]`

func (g *gen) write(b *strings.Builder) {
	in := g.in
	standalone := !in.Options.ChainOnly
	in.WriteHeader(b, "portolan rules for MikroTik RouterOS v7 (/import script)")
	b.WriteString("#\n")
	comment(b, "Apply: upload this file to the router (Files, or scp FILE admin@ROUTER:portolan.rsc), then run /import file-name=portolan.rsc. Every item it adds has a comment starting with \"portolan:\", and each menu starts by removing such items, so importing it again replaces them rather than duplicating them. Undo: /ip firewall filter remove [find where comment~\"^portolan:\"], the same in /ip firewall nat and /ip firewall address-list, and under /ipv6 firewall.")
	comment(b, fmt.Sprintf("Interfaces: in-interface %s (LAN) and %s (WAN) come from --lan-if and --wan-if; without them, %s and %s, the default configuration's.", g.lanIf, g.wanIf, DefaultLAN, DefaultWAN))
	if standalone {
		comment(b, "Standalone: /import appends, so these rules follow your own rules in chain forward (place-before would need one of your rules, which portolan does not know; to move them, add place-before=[find where comment=\"YOUR RULE\"] to the adds). The default configuration's forward rules (fasttrack and accept established/related/untracked, drop invalid, drop from the WAN what is not DSTNATed) work as they are in front of them; an accept of yours above them (such as an accept-all from the LAN) decides first and must go. The last rule of each family drops whatever no rule accepted: RouterOS has no chain policy, and an empty forward chain passes everything.")
	} else {
		comment(b, fmt.Sprintf("Chains only: the rules go into chains %s and %s, with no drop at the end (a packet they do not accept returns to your chain). Jump to them once, from where your own rules want them (after your accept of established and related packets), with a comment of your own so that a rerun keeps the jump:", ChainForward, ChainDstNAT))
		b.WriteString("#   /ip firewall filter add chain=forward action=jump jump-target=" + ChainForward + " comment=\"jump to portolan\"\n")
		b.WriteString("#   /ip firewall nat add chain=dstnat action=jump jump-target=" + ChainDstNAT + " comment=\"jump to portolan\"\n")
		b.WriteString("#   (the same under /ipv6 firewall)\n")
	}
	if target.ResolveNames {
		comment(b, "--resolve-names: the address lists hold the addresses names resolved to here; regenerate and import again when they change.")
	} else {
		comment(b, "Names stay names: an address-list entry with a DNS name is resolved by the router itself (/ip dns must work), which keeps its addresses as dynamic entries of the list and refreshes them as their TTL runs out. --resolve-names writes addresses instead. RouterOS holds no wildcard names: flows to wildcard domains are listed below.")
	}
	comment(b, "SSL inspection: RouterOS does not inspect TLS; nothing to exempt here.")
	in.WriteConstraints(b, "RouterOS", g.action)
	target.WriteNotes(b, g.notes)
	for _, fam := range []int{4, 6} {
		mn := menu(fam)
		b.WriteString("\n/" + mn + " firewall address-list\n" + removeOwn + "\n")
		for _, l := range g.lists[fam] {
			comment(b, l.name+": "+l.comment)
			for _, e := range l.entries {
				fmt.Fprintf(b, "add list=%s address=%s %s\n", l.name, e, commentArg(CommentPrefix+l.comment))
			}
		}
		b.WriteString("\n/" + mn + " firewall filter\n" + removeOwn + "\n")
		if standalone {
			fmt.Fprintf(b, "add chain=forward action=accept connection-state=established,related %s\n", commentArg(CommentPrefix+"replies and related ICMP errors of accepted flows"))
			fmt.Fprintf(b, "add chain=forward action=drop connection-state=invalid %s\n", commentArg(CommentPrefix+"invalid packets"))
		}
		writeLines(b, g.filter[fam])
		if standalone {
			fmt.Fprintf(b, "add chain=forward action=drop %s\n", commentArg(CommentPrefix+"drop what no rule above accepts (RouterOS has no chain policy)"))
		}
		b.WriteString("\n/" + mn + " firewall nat\n" + removeOwn + "\n")
		writeLines(b, g.nat[fam])
	}
	g.writeConstraintCommands(b)
}

func writeLines(b *strings.Builder, ls []line) {
	var last []string
	for _, l := range ls {
		if !slices.Equal(l.above, last) {
			for _, c := range l.above {
				b.WriteString(c + "\n")
			}
			last = l.above
		}
		b.WriteString("add " + l.args + " " + commentArg(l.comment) + "\n")
	}
}

// algPorts maps the apps of an alg-off constraint to RouterOS's
// service-port helpers.
var algPorts = map[string]string{"sip": "sip", "sip-tls": "sip", "h323": "h323"}

// action says what constraint c means for RouterOS.
func (g *gen) action(c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		var sp []string
		for _, a := range c.Apps {
			if p, ok := algPorts[a]; ok && !slices.Contains(sp, p) {
				sp = append(sp, p)
			}
		}
		if len(sp) == 0 {
			return c.Purpose + " — RouterOS has no helper for " + strings.Join(c.Apps, "/") + "."
		}
		return fmt.Sprintf("%s — the script turns RouterOS's %s helper off (/ip firewall service-port set %s disabled=yes, at its end); it applies to every connection of the router.", c.Purpose, strings.Join(sp, " and "), strings.Join(sp, ","))
	case model.KindNATTimeout:
		ts, err := target.Timeouts(c)
		if err != nil || len(ts) == 0 {
			return c.Purpose
		}
		return fmt.Sprintf("%s — the script raises /ip firewall connection tracking's timeouts to at least this (at its end; a higher value stays).%s", c.Purpose, target.Keepalive(c))
	case model.KindAllowByName:
		if target.ResolveNames {
			return c.Purpose + " — --resolve-names wrote addresses; without it the address lists hold the names and RouterOS resolves them."
		}
		return c.Purpose + " — the address lists hold the names; RouterOS resolves them and refreshes their addresses."
	case model.KindSSLInspectionOff:
		return c.Purpose + " — RouterOS does not inspect TLS; exempt " + target.Hosts(c) + " on any TLS-inspecting proxy on the path."
	}
	return target.ConstraintAction(c, "RouterOS")
}

// writeConstraintCommands writes the constraints RouterOS has commands
// for: service-port helpers off, connection tracking timeouts raised.
func (g *gen) writeConstraintCommands(b *strings.Builder) {
	var helpers []string
	helperWhy := map[string][]string{}
	timeouts := map[string]time.Duration{}
	timeoutWhy := map[string][]string{}
	var order []string
	for _, c := range g.in.Constraints {
		switch c.Kind {
		case model.KindALGOff:
			for _, a := range c.Apps {
				p, ok := algPorts[a]
				if !ok {
					continue
				}
				if !slices.Contains(helpers, p) {
					helpers = append(helpers, p)
				}
				if ref := target.ConstraintRef(c); !slices.Contains(helperWhy[p], ref) {
					helperWhy[p] = append(helperWhy[p], ref)
				}
			}
		case model.KindNATTimeout:
			ts, err := target.Timeouts(c)
			if err != nil {
				continue
			}
			for _, t := range ts {
				props := map[string]time.Duration{"udp-timeout": t.Unreplied, "udp-stream-timeout": t.Replied}
				if t.Proto == model.TCP {
					props = map[string]time.Duration{"tcp-established-timeout": t.Replied}
				}
				for _, k := range []string{"udp-timeout", "udp-stream-timeout", "tcp-established-timeout"} {
					d, ok := props[k]
					if !ok {
						continue
					}
					if _, seen := timeouts[k]; !seen {
						order = append(order, k)
					}
					timeouts[k] = max(timeouts[k], d)
					if ref := target.ConstraintRef(c); !slices.Contains(timeoutWhy[k], ref) {
						timeoutWhy[k] = append(timeoutWhy[k], ref)
					}
				}
			}
		}
	}
	if len(helpers) > 0 {
		b.WriteString("\n/ip firewall service-port\n")
		for _, h := range helpers {
			comment(b, "helper "+h+" off: "+strings.Join(helperWhy[h], "; "))
			fmt.Fprintf(b, "set %s disabled=yes\n", h)
		}
	}
	if len(order) > 0 {
		b.WriteString("\n/ip firewall connection tracking\n")
		for _, k := range order {
			s := fmt.Sprintf("%ds", int(timeouts[k]/time.Second))
			comment(b, fmt.Sprintf("%s at least %s (never lowered): %s", k, s, strings.Join(timeoutWhy[k], "; ")))
			fmt.Fprintf(b, ":if ([/ip firewall connection tracking get %s] < [:totime \"%s\"]) do={ /ip firewall connection tracking set %s=%s }\n", k, s, k, s)
		}
	}
}
