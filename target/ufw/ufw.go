// Package ufw writes the policy for ufw (Uncomplicated Firewall) as one
// POSIX sh script: an application profile file,
// /etc/ufw/applications.d/portolan, with one profile per flow and
// protocol (its ports), and the `ufw allow` (host mode) or `ufw route
// allow` (gateway mode) commands that use the profiles, one per address
// pair, each with a comment naming service, flow and document line.
//
// `sh FILE` applies it; `sh FILE undo` runs the same commands as `ufw
// delete` and removes the profile file and the script's block of
// /etc/ufw/sysctl.conf. Port forwards (DNAT) are not ufw commands: the
// header gives the *nat lines for /etc/ufw/before.rules and before6.rules.
package ufw

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/iptables"
)

func init() { target.Register(Target{}) }

// Target writes the ufw script.
type Target struct{}

// Name is "ufw".
func (Target) Name() string { return "ufw" }

// Synopsis describes the output.
func (Target) Synopsis() string {
	return "sh script: application profiles portolan-* and ufw allow / ufw route allow commands (sh FILE undo removes them)"
}

// Resolves is true: ufw takes addresses.
func (Target) Resolves() bool { return true }

// Paths the script writes.
const (
	ProfileFile = "/etc/ufw/applications.d/portolan"
	SysctlFile  = "/etc/ufw/sysctl.conf"
	DefaultFile = "/etc/default/ufw"
)

// ProfileNameMax is the longest profile name ufw reads (applications.py).
const ProfileNameMax = 64

// PortsMax is how many ports one ports entry of a profile holds: ufw
// refuses more than 14 commas and colons (iptables' multiport limit of
// 15, a range counting twice).
const PortsMax = 15

// FieldMax is the longest value of a profile field ufw reads.
const FieldMax = 1024

// Profile is one application profile.
type Profile struct {
	Name, Title, Description string
	Proto                    string
	Ports                    []string // "443", "10000:20000"
}

// Ports is the profile's ports field.
func (p *Profile) PortsField() string { return strings.Join(p.Ports, ",") + "/" + p.Proto }

type command struct {
	comments []string
	text     string
}

type gen struct {
	in       *target.Input
	profiles []*Profile
	byName   map[string]*Profile
	cmds     []command
	dnat     map[int][]string // family -> before.rules lines
	notes    []string
	stats    target.Stats
	sysctl   []string
	modules  []string
}

// Write writes the script.
func (Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	g := &gen{in: in, byName: map[string]*Profile{}, dnat: map[int][]string{}, notes: in.Notes()}
	for i := range in.Rules {
		if err := g.rule(&in.Rules[i]); err != nil {
			return target.Result{}, err
		}
	}
	if err := g.constraints(); err != nil {
		return target.Result{}, err
	}
	if len(g.dnat[4])+len(g.dnat[6]) > 0 {
		g.notes = append(g.notes, "port forwards (DNAT) are not ufw commands: the ufw route allow commands below accept the forwarded packets, and the header gives the *nat lines to add at the top of /etc/ufw/before.rules (IPv4) and before6.rules (IPv6), then ufw reload")
	}
	for _, c := range in.Constraints {
		if c.Kind == model.KindALGOff {
			g.notes = append(g.notes, fmt.Sprintf("%s/%s: ufw has no ALG setting: this script takes %s out of IPT_MODULES in %s; unload them yourself (modprobe -r %s) and keep them unloaded (a blacklist line in /etc/modprobe.d)", c.Service, c.ID, strings.Join(g.modules, " "), DefaultFile, strings.Join(g.modules, " ")))
		}
	}
	var b strings.Builder
	g.write(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return target.Result{}, err
	}
	return target.Result{Stats: g.stats, Notes: g.notes}, nil
}

// profileName names the profile of a flow's protocol, chunk n (from 1):
// portolan-SERVICE-FLOW-PROTO[-N], at most ProfileNameMax bytes.
func profileName(service, flow, proto string, n int) string {
	s := fmt.Sprintf("portolan-%s-%s", service, flow)
	if !strings.HasSuffix(flow, "-"+proto) {
		s += "-" + proto
	}
	if n > 1 {
		s += fmt.Sprintf("-%d", n)
	}
	if len(s) > ProfileNameMax {
		h := sha256.Sum256([]byte(s))
		s = s[:ProfileNameMax-9] + "-" + hex.EncodeToString(h[:4])
	}
	return s
}

// profiles returns the profiles of a rule's destination ports: one per
// chunk of at most PortsMax ports. Two rules of a flow and protocol with
// the same ports share them.
func (g *gen) profilesOf(r *policy.Rule, ps model.PortSet, what string) ([]*Profile, error) {
	f := r.Flow
	var out []*Profile
	for i, ch := range chunks(ps.Ranges()) {
		p := &Profile{
			Proto: r.Match.Proto, Ports: ch,
			Title:       target.Truncate(target.OneLine(fmt.Sprintf("%s %s (portolan)", target.FlowRef(f), what)), 200),
			Description: target.Truncate(target.OneLine(fmt.Sprintf("%s %s %s, %s: %s (%s)", target.FlowRef(f), f.Direction, f.Proto, f.Necessity, f.Purpose, target.SourceRef(f.Source))), FieldMax),
		}
		base := f.ID
		if what != "" && what != "ports" {
			base += "-" + what
		}
		for n := i + 1; ; n += len(chunks(ps.Ranges())) {
			p.Name = profileName(f.Service, base, p.Proto, n)
			old, ok := g.byName[p.Name]
			if !ok {
				g.byName[p.Name] = p
				g.profiles = append(g.profiles, p)
				out = append(out, p)
				break
			}
			if slices.Equal(old.Ports, p.Ports) && old.Proto == p.Proto {
				out = append(out, old)
				break
			}
		}
	}
	return out, nil
}

// chunks splits sorted, disjoint ranges into lists of at most PortsMax
// (a range counts twice), written as ufw writes them: the lists become
// iptables multiport matches, whose limit and syntax they share.
func chunks(rs []model.PortRange) [][]string { return iptables.RangeChunks(rs, PortsMax) }

// addr is how a command names a prefix: an address alone, a prefix, or
// the family's whole space for any (so that a rule stays in its family).
func addr(p netip.Prefix, fam int) string {
	if !p.IsValid() {
		if fam == 6 {
			return "::/0"
		}
		return "0.0.0.0/0"
	}
	p = p.Masked()
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// commentText makes s safe inside the single quotes of a ufw comment.
func commentText(s string) string {
	return strings.NewReplacer("'", "", `"`, "", `\`, "/", "`", "").Replace(target.Truncate(target.OneLine(s), 250))
}

func (g *gen) rule(r *policy.Rule) error {
	m := r.Match
	src, dst := m.SrcAddrs(), m.DstAddrs()
	if !m.AnySrc() && len(src) == 0 || !m.AnyDst() && len(dst) == 0 {
		var names []string
		for _, n := range append(slices.Clone(m.SrcNames), m.DstNames...) {
			names = append(names, n.Name)
		}
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d %s rule: %s have no IPv%d address yet; regenerate once they resolve", target.FlowRef(r.Flow), m.Family, r.Hook, strings.Join(names, ", "), m.Family))
		return nil
	}
	if m.AnySrc() {
		src = []netip.Prefix{{}}
	}
	if m.AnyDst() {
		dst = []netip.Prefix{{}}
	}
	if r.Hook == policy.Prerouting {
		for _, s := range src {
			for _, ch := range chunks(m.DstPorts.Ranges()) {
				l := "-A " + ChainDNAT
				if m.IIf != "" {
					l += " -i " + m.IIf
				}
				if s.IsValid() {
					l += " -s " + s.Masked().String()
				}
				l += " -p " + m.Proto
				if len(ch) == 1 {
					l += " --dport " + ch[0]
				} else {
					l += " -m multiport --dports " + strings.Join(ch, ",")
				}
				l += " -m comment --comment \"" + commentText(target.RuleComment(r)) + "\" -j DNAT --to-destination " + r.DNAT.String()
				g.dnat[m.Family] = append(g.dnat[m.Family], l)
			}
		}
		return nil
	}
	dapps, err := g.profilesOf(r, m.DstPorts, "ports")
	if err != nil {
		return err
	}
	sapps := []*Profile{nil}
	if !m.SrcPorts.Empty() {
		if sapps, err = g.profilesOf(r, m.SrcPorts, "src"); err != nil {
			return err
		}
	}
	var head string
	switch r.Hook {
	case policy.Forward:
		head = "ufw route allow"
		if m.IIf != "" {
			head += " in on " + m.IIf
		}
		if m.OIf != "" {
			head += " out on " + m.OIf
		}
	case policy.Input:
		head = "ufw allow in"
	case policy.Output:
		head = "ufw allow out"
	default:
		return fmt.Errorf("%s: hook %s: no ufw command", target.FlowRef(r.Flow), r.Hook)
	}
	comments := g.in.FlowComments(r)
	if names := append(slices.Clone(m.SrcNames), m.DstNames...); len(names) > 0 {
		as := &target.AddrSet{Names: names}
		comments = append(comments, "# "+target.OneLine("addresses of "+strings.Join(as.NameList(), ", ")+" "+as.Resolved()+"; regenerate to refresh"))
	}
	first := true
	for _, s := range src {
		for _, d := range dst {
			for _, sa := range sapps {
				for _, da := range dapps {
					c := head + " from " + addr(s, m.Family)
					if sa != nil {
						c += " app " + sa.Name
					}
					c += " to " + addr(d, m.Family) + " app " + da.Name + " comment '" + commentText(target.RuleComment(r)) + "'"
					cmd := command{text: c}
					if first {
						cmd.comments = comments
						first = false
					}
					g.cmds = append(g.cmds, cmd)
					g.stats.Rules++
				}
			}
		}
	}
	return nil
}

// constraints turns the constraints ufw has a setting for into sysctl
// lines and IPT_MODULES edits.
func (g *gen) constraints() error {
	if g.in.Site.Mode == policy.Gateway && !g.in.Options.ChainOnly {
		g.sysctl = append(g.sysctl, "net/ipv4/ip_forward=1", "net/ipv6/conf/default/forwarding=1", "net/ipv6/conf/all/forwarding=1")
	}
	ts, err := target.Timeouts(g.in.Constraints...)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	add := func(l string) {
		if !seen[l] {
			seen[l] = true
			g.sysctl = append(g.sysctl, l)
		}
	}
	var udp, udpStream, tcp time.Duration
	for _, t := range ts {
		if t.Proto == model.TCP {
			tcp = max(tcp, t.Replied)
		} else {
			udp, udpStream = max(udp, t.Unreplied), max(udpStream, t.Replied)
		}
	}
	if udp > 0 {
		add(fmt.Sprintf("net/netfilter/nf_conntrack_udp_timeout=%d", int(udp/time.Second)))
		add(fmt.Sprintf("net/netfilter/nf_conntrack_udp_timeout_stream=%d", int(udpStream/time.Second)))
	}
	if tcp > 0 {
		add(fmt.Sprintf("net/netfilter/nf_conntrack_tcp_timeout_established=%d", int(tcp/time.Second)))
	}
	for _, c := range g.in.Constraints {
		if c.Kind != model.KindALGOff {
			continue
		}
		for _, a := range c.Apps {
			var mods []string
			switch a {
			case "sip":
				mods = []string{"nf_nat_sip", "nf_conntrack_sip"}
			case "h323":
				mods = []string{"nf_nat_h323", "nf_conntrack_h323"}
			}
			for _, m := range mods {
				if !slices.Contains(g.modules, m) {
					g.modules = append(g.modules, m)
				}
			}
		}
	}
	return nil
}

// action says what constraint c means for ufw.
func (g *gen) action(c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		return fmt.Sprintf("%s — ufw has no ALG setting. This script removes %s from IPT_MODULES in %s, so ufw does not load them; unload them (modprobe -r %s) and check with lsmod | grep -E 'nf_(conntrack|nat)_'.", c.Purpose, strings.Join(g.modules, " "), DefaultFile, strings.Join(g.modules, " "))
	case model.KindNATTimeout:
		ts, err := target.Timeouts(c)
		if err != nil || len(ts) == 0 {
			return c.Purpose
		}
		return fmt.Sprintf("%s — ufw has no per-flow timeout: this script sets the conntrack timeouts of every flow of the machine in %s (applied when ufw starts): %s.%s", c.Purpose, SysctlFile, strings.Join(g.timeoutLines(), ", "), target.Keepalive(c))
	case model.KindAllowByName:
		return fmt.Sprintf("%s — ufw matches addresses: the names are resolved at generation (see the comments above the commands); regenerate, run sh FILE undo with the old script and sh FILE with the new one when they change.", c.Purpose)
	}
	return target.ConstraintAction(c, "ufw")
}

func (g *gen) timeoutLines() []string {
	var out []string
	for _, l := range g.sysctl {
		if strings.HasPrefix(l, "net/netfilter/") {
			out = append(out, l)
		}
	}
	return out
}

func comment(b *strings.Builder, text string) {
	for _, l := range target.Wrap("# ", text, 100) {
		b.WriteString(l + "\n")
	}
}

// defaults are the ufw default commands the script runs, by mode.
func (g *gen) defaults() []string {
	if g.in.Options.ChainOnly {
		return nil
	}
	if g.in.Site.Mode == policy.Host {
		return []string{"ufw default deny incoming", "ufw default deny outgoing"}
	}
	return []string{"ufw default deny routed"}
}

func (g *gen) write(b *strings.Builder) {
	in := g.in
	b.WriteString("#!/bin/sh\n")
	in.WriteHeader(b, "portolan rules for ufw: application profiles ("+ProfileFile+") and ufw commands")
	b.WriteString("#\n")
	comment(b, "Apply as root: sh FILE. It writes the profiles, runs the ufw commands (ufw skips a rule it has already, so running it again adds nothing) and leaves ufw's state alone: run ufw enable if ufw is inactive (ufw status); when it is active the rules apply at once. Undo: sh FILE undo deletes the same rules (ufw delete), removes "+ProfileFile+" and this script's block of "+SysctlFile+". After a new version of this file, run the old one with undo first, or rules to addresses that changed stay.")
	if d := g.defaults(); len(d) > 0 {
		what := "Defaults this script sets (the plan drops what it does not accept): " + strings.Join(d, "; ")
		if in.Site.Mode == policy.Gateway {
			what += "; incoming and outgoing (the router's own traffic) stay as they are"
		}
		comment(b, what+". Undo leaves the defaults: set them back yourself (ufw default allow outgoing …).")
	} else {
		comment(b, "--chain-only: this script sets no ufw default; the plan assumes ufw default deny "+map[policy.Mode]string{policy.Gateway: "routed", policy.Host: "incoming and deny outgoing"}[in.Site.Mode]+".")
	}
	comment(b, "ufw's own /etc/ufw/before.rules and before6.rules accept more than the plan: replies of accepted flows (as the plan does), loopback, ICMP and ICMPv6 (echo request included), DHCP replies, mDNS (224.0.0.251:5353) and UPnP (239.255.255.250:1900); remove those lines there if you do not want them.")
	if in.Site.Mode == policy.Gateway {
		comment(b, "ufw route rules need forwarding: this script adds net/ipv4/ip_forward=1 and net/ipv6/conf/{default,all}/forwarding=1 to "+SysctlFile+".")
	}
	if len(g.dnat[4])+len(g.dnat[6]) > 0 {
		comment(b, "Port forwards (DNAT) are not ufw commands. Add these lines at the top of /etc/ufw/before.rules (IPv4) and /etc/ufw/before6.rules (IPv6), before *filter, then ufw reload; the ufw route allow commands below accept what they forward. ufw loads the file with --noflush: declaring "+ChainDNAT+" empties it, so a reload replaces its rules, but each reload adds one more jump from PREROUTING, which does no harm (the first one decides).")
		for _, fam := range []int{4, 6} {
			if len(g.dnat[fam]) == 0 {
				continue
			}
			file := map[int]string{4: "/etc/ufw/before.rules", 6: "/etc/ufw/before6.rules"}[fam]
			b.WriteString("#   " + file + ":\n")
			b.WriteString("#     *nat\n#     :PREROUTING ACCEPT [0:0]\n#     :" + ChainDNAT + " - [0:0]\n#     -A PREROUTING -j " + ChainDNAT + "\n")
			for _, l := range g.dnat[fam] {
				b.WriteString("#     " + l + "\n")
			}
			b.WriteString("#     COMMIT\n")
		}
	}
	in.WriteConstraints(b, "ufw", g.action)
	target.WriteNotes(b, g.notes)
	b.WriteString("\nset -e\n")
	b.WriteString(`if [ "${1:-}" = undo ]; then
	# The same commands, as ufw delete; defaults stay.
	ufw() {
		case "$1" in
		default) return 0 ;;
		route) shift 2; command ufw route delete allow "$@" ;;
		allow) shift; command ufw delete allow "$@" ;;
		*) command ufw "$@" ;;
		esac
	}
elif [ -n "${1:-}" ]; then
	echo "usage: sh $0 [undo]" >&2
	exit 2
else
`)
	fmt.Fprintf(b, "\tcat > %s <<'PORTOLAN_PROFILES'\n", tmpProfile)
	for i, p := range g.profiles {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(b, "[%s]\ntitle=%s\ndescription=%s\nports=%s\n", p.Name, p.Title, p.Description, p.PortsField())
		g.stats.PortSets++
		g.stats.Ports += len(p.Ports)
	}
	b.WriteString("PORTOLAN_PROFILES\n")
	fmt.Fprintf(b, "\tmv -f %s %s\n", tmpProfile, ProfileFile)
	if len(g.sysctl) > 0 {
		fmt.Fprintf(b, "\tsed -i '/^# portolan begin/,/^# portolan end/d' %s\n", SysctlFile)
		fmt.Fprintf(b, "\tcat >> %s <<'PORTOLAN_SYSCTL'\n# portolan begin (sh FILE undo removes this block)\n", SysctlFile)
		for _, l := range g.sysctl {
			b.WriteString(l + "\n")
		}
		b.WriteString("# portolan end\nPORTOLAN_SYSCTL\n")
	}
	if len(g.modules) > 0 {
		fmt.Fprintf(b, "\t# ALG off: ufw loads no %s\n", strings.Join(g.modules, ", "))
		fmt.Fprintf(b, "\tsed -i -E '/^IPT_MODULES=/ s/ ?(%s)//g' %s\n", strings.Join(g.modules, "|"), DefaultFile)
	}
	b.WriteString("fi\n\n")
	for _, d := range g.defaults() {
		b.WriteString(d + "\n")
	}
	for _, c := range g.cmds {
		if len(c.comments) > 0 {
			b.WriteString("\n")
			for _, l := range c.comments {
				b.WriteString(l + "\n")
			}
		}
		b.WriteString(c.text + "\n")
	}
	b.WriteString("\nif [ \"${1:-}\" = undo ]; then\n")
	fmt.Fprintf(b, "\trm -f %s\n", ProfileFile)
	fmt.Fprintf(b, "\tif [ -f %s ]; then sed -i '/^# portolan begin/,/^# portolan end/d' %s; fi\n", SysctlFile, SysctlFile)
	b.WriteString("fi\n")
}

// ChainDNAT is the nat chain of the port forwards the header gives for
// before.rules.
const ChainDNAT = "PORTOLAN-PREROUTING"

// tmpProfile is where the profiles are written before they replace the
// file: a hidden name, which ufw does not read.
const tmpProfile = "/etc/ufw/applications.d/.portolan.new"
