// Package aws writes the policy as Terraform for AWS VPC security groups
// (target "aws"): one or more aws_security_group resources and one
// aws_vpc_security_group_ingress_rule or aws_vpc_security_group_egress_rule
// per protocol, port range and address prefix.
//
// A security group is attached to an instance's network interfaces and
// filters that instance's own traffic, so only host mode has a meaning
// here: inbound flows become ingress rules, outbound flows egress rules.
// Gateway mode (a router's forward path and its port forwards) is refused
// with an error that says what to do instead.
//
// Security groups only allow and are stateful: replies of an allowed flow
// pass without a rule, and what no rule allows is dropped. They hold
// addresses, not names: names become their resolved addresses (/32,
// /128), the name in the rule's description; wildcard domains cannot be
// written at all. They match no source port: a flow that names source
// ports is opened from any source port, and a note says so. Terraform
// removes the allow-all egress rule AWS puts in a new group, so egress is
// what the egress rules say.
//
// Limits: a description holds at most 255 characters of a-z, A-Z, 0-9,
// space and ._-:/()#,@[]+=;{}!$* (others become "_"; "&" too, which some
// kinds of rule refuse); a group holds by default 60 inbound and 60
// outbound rules, counted apart for IPv4 and IPv6, so a larger plan is
// split into several groups, and a note says so when it takes more than
// the 5 groups an interface takes by default. Text in Terraform strings
// stays literal: Quote writes "${" and "%{" as "$${" and "%%{".
//
// The Terraform provider registry is not reachable where portolan is
// built, so the output is not checked by terraform validate: the tests
// parse it with github.com/hashicorp/hcl/v2 and decode every block
// strictly into types written from the provider's documented arguments
// (schema_test.go, with the documentation's address for each).
package aws

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/portolan/portolan/internal/lazyre"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

func init() { target.Register(&Target{}) }

var _ target.SiteChecker = (*Target)(nil)

// Target writes Terraform for security groups. VPCID is --vpc-id: the VPC
// of the groups; empty writes a variable "vpc_id" instead.
type Target struct {
	VPCID string
}

// Name is "aws".
func (*Target) Name() string { return "aws" }

// Synopsis describes the output.
func (*Target) Synopsis() string {
	return "Terraform: aws_security_group and aws_vpc_security_group_*_rule (--mode host)"
}

// Resolves is true: security groups hold addresses.
func (*Target) Resolves() bool { return true }

// Flags adds --vpc-id.
func (t *Target) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&t.VPCID, "vpc-id", "", `the VPC of the security groups (vpc-…); without it the output declares variable "vpc_id"`)
}

// Documented limits of security groups.
const (
	// DescriptionMax is the longest rule or group description.
	DescriptionMax = 255
	// RulesPerGroup is the default quota of inbound (and of outbound)
	// rules per security group, counted apart for IPv4 and IPv6.
	RulesPerGroup = 60
	// GroupsPerInterface is the default quota of security groups per
	// network interface.
	GroupsPerInterface = 5
)

// ErrGatewayMode is returned for --mode gateway.
var ErrGatewayMode = errors.New("--target aws: a security group filters the traffic of an instance's own network interfaces: pass --mode host. " +
	"Gateway mode's forward path and port forwards (DNAT) have no security group form: forward with a Network Load Balancer to the instance that carries this group, " +
	"or write --target nftables for a NAT instance")

var vpcIDRE = lazyre.New(`^vpc-[0-9a-f]{8,17}$`)

// Rule is one security group rule resource.
type Rule struct {
	Label  string // the Terraform resource name
	Group  int    // index of the group it belongs to
	Egress bool
	Proto  string // tcp or udp
	From   uint16
	To     uint16
	CIDR   netip.Prefix
	refs   []string
	names  []string
	blocks *target.Comments
}

// Type is the resource type of the rule.
func (r *Rule) Type() string {
	if r.Egress {
		return "aws_vpc_security_group_egress_rule"
	}
	return "aws_vpc_security_group_ingress_rule"
}

func (r *Rule) key() string {
	return fmt.Sprintf("%t|%s|%d|%d|%s", r.Egress, r.Proto, r.From, r.To, r.CIDR)
}

func (r *Rule) family() int {
	if r.CIDR.Addr().Is4() {
		return 4
	}
	return 6
}

type gen struct {
	t      *Target
	in     *target.Input
	rules  []*Rule
	byKey  map[string]*Rule
	groups int
	notes  []string
	index  target.RefIndex
}

// CheckSite refuses gateway mode (ErrGatewayMode) and a malformed
// --vpc-id, before any name is resolved.
func (t *Target) CheckSite(site policy.Site, _ target.Options) error {
	if site.Mode != policy.Host {
		return ErrGatewayMode
	}
	if t.VPCID != "" && !vpcIDRE.MatchString(t.VPCID) {
		return fmt.Errorf("--vpc-id %q: not a VPC id (vpc- and 8 or 17 hexadecimal digits)", t.VPCID)
	}
	return nil
}

// Write writes the Terraform configuration.
func (t *Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	if err := t.CheckSite(in.Site, in.Options); err != nil {
		return target.Result{}, err
	}
	g := &gen{t: t, in: in, byKey: map[string]*Rule{}, notes: in.Notes()}
	for i := range in.Rules {
		g.rule(&in.Rules[i])
	}
	g.assign()
	var b strings.Builder
	g.write(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return target.Result{}, err
	}
	st := target.Stats{Rules: len(g.rules)}
	prefixes := map[netip.Prefix]bool{}
	for _, r := range g.rules {
		prefixes[r.CIDR] = true
	}
	st.Elements = len(prefixes)
	return target.Result{Stats: st, Notes: g.notes}, nil
}

func (g *gen) rule(r *policy.Rule) {
	m := r.Match
	ref := target.RuleComment(r)
	var egress bool
	var prefixes []netip.Prefix
	var names []resolve.NameAddrs
	switch r.Hook {
	case policy.Input:
		prefixes, names = m.Src, m.SrcNames
	case policy.Output:
		egress = true
		prefixes, names = m.Dst, m.DstNames
	default:
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: a %s rule has no security group form", target.FlowRef(r.Flow), r.Hook))
		return
	}
	if m.Proto != model.TCP && m.Proto != model.UDP {
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: protocol %q is not written (tcp and udp only)", target.FlowRef(r.Flow), m.Proto))
		return
	}
	if !m.SrcPorts.Empty() {
		g.notes = append(g.notes, fmt.Sprintf("wider: %s: a security group matches no source port: source ports %s are not checked, any source port passes", target.FlowRef(r.Flow), m.SrcPorts))
	}
	type cidr struct {
		p    netip.Prefix
		name string
	}
	var cidrs []cidr
	if len(prefixes) == 0 && len(names) == 0 {
		any := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if m.Family == 6 {
			any = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		cidrs = append(cidrs, cidr{p: any})
	}
	for _, p := range prefixes {
		cidrs = append(cidrs, cidr{p: p.Masked()})
	}
	var unresolved []string
	for _, n := range names {
		if len(n.Answer.Addrs) == 0 {
			unresolved = append(unresolved, n.Name)
		}
		for _, a := range n.Answer.Addrs {
			a = a.Unmap()
			cidrs = append(cidrs, cidr{p: netip.PrefixFrom(a, a.BitLen()), name: n.Name})
		}
	}
	if len(unresolved) > 0 {
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d %s rule: %s have no IPv%d address yet; regenerate once they resolve", target.FlowRef(r.Flow), m.Family, r.Hook, strings.Join(unresolved, ", "), m.Family))
	}
	ports := m.DstPorts.Ranges()
	if len(ports) == 0 {
		ports = model.AllPorts().Ranges()
	}
	block := g.in.FlowComments(r)
	for _, c := range cidrs {
		for _, pr := range ports {
			nr := &Rule{Egress: egress, Proto: m.Proto, From: pr.Lo, To: pr.Hi, CIDR: c.p}
			if old, ok := g.byKey[nr.key()]; ok {
				nr = old
			} else {
				nr.blocks = target.NewComments(nil)
				g.byKey[nr.key()] = nr
				g.rules = append(g.rules, nr)
			}
			if !slices.Contains(nr.refs, ref) {
				nr.refs = append(nr.refs, ref)
			}
			if c.name != "" && !slices.Contains(nr.names, c.name) {
				nr.names = append(nr.names, c.name)
			}
			nr.blocks.Add(block)
		}
	}
}

// assign gives each rule its label and group: the k-th rule of a
// direction and family goes to group k/RulesPerGroup.
func (g *gen) assign() {
	count := map[string]int{}
	for _, r := range g.rules {
		dim := fmt.Sprintf("%t%d", r.Egress, r.family())
		r.Group = count[dim] / RulesPerGroup
		count[dim]++
		g.groups = max(g.groups, r.Group+1)
		r.Label = label(r)
	}
	if g.groups == 0 {
		g.groups = 1
	}
	if g.groups > 1 {
		g.notes = append(g.notes, fmt.Sprintf("split: the rules take %d security groups (a group holds %d inbound and %d outbound rules per address family by default); attach all of them (output portolan_security_group_ids)", g.groups, RulesPerGroup, RulesPerGroup))
	}
	if g.groups > GroupsPerInterface {
		g.notes = append(g.notes, fmt.Sprintf("quota: %d security groups are more than the %d a network interface takes by default: raise the quota \"Security groups per network interface\" or \"Inbound or outbound rules per security group\" (their product stays at most 1000), or narrow the services", g.groups, GroupsPerInterface))
	}
}

// label is a rule's Terraform name: direction, protocol, ports and
// prefix, so that it stays the same across reruns and differs between
// rules.
func label(r *Rule) string {
	dir := "in"
	if r.Egress {
		dir = "out"
	}
	ports := fmt.Sprint(r.From)
	if r.To != r.From {
		ports += "-" + fmt.Sprint(r.To)
	}
	addr := strings.NewReplacer(".", "_", ":", "_", "/", "_").Replace(r.CIDR.String())
	return fmt.Sprintf("%s_%s_%s_v%d_%s", dir, r.Proto, ports, r.family(), addr)
}

// groupLabel is the Terraform name of group i.
func groupLabel(i int) string {
	if i == 0 {
		return "portolan"
	}
	return fmt.Sprintf("portolan_%d", i+1)
}

// Description makes s fit a security group or rule description: one
// line of the documented characters (others become "_"), at most
// DescriptionMax bytes.
func Description(s string) string {
	s = strings.ReplaceAll(target.OneLine(s), "…", "...")
	var b strings.Builder
	for _, c := range s {
		if descOK(c) {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	s = b.String()
	if len(s) > DescriptionMax {
		s = s[:DescriptionMax-3] + "..."
	}
	return s
}

// DescriptionChars are the characters a description may hold besides
// ASCII letters and digits.
// "&" is documented for address ranges but not for every kind of rule
// (prefix lists, referenced groups), so it is left out.
const DescriptionChars = " ._-:/()#,@[]+=;{}!$*"

func descOK(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(DescriptionChars, c)
}

// Quote writes s as a Terraform (HCL native syntax) string literal:
// quotes, backslashes and control characters escaped, and "${" and "%{"
// written "$${" and "%%{" so that no text becomes an interpolation or a
// template directive.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, c := range s {
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case (c == '$' || c == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(c)
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (g *gen) services() string {
	var s []string
	for _, c := range g.in.Choices {
		s = append(s, c.Service.Slug())
	}
	return strings.Join(s, "-")
}

func (g *gen) write(b *strings.Builder) {
	in := g.in
	in.WriteHeader(b, "portolan rules for AWS VPC security groups (Terraform)")
	b.WriteString("#\n")
	comment(b, "Apply: put this file in a Terraform configuration whose hashicorp/aws provider has aws_vpc_security_group_ingress_rule and _egress_rule, then terraform init and terraform apply"+g.varHint()+". Attach the groups (output portolan_security_group_ids) to the instance's network interfaces, e.g. vpc_security_group_ids of aws_instance. Undo: terraform destroy, or remove this file and apply.")
	comment(b, "A security group only allows, and is stateful: replies of an allowed flow pass without a rule; everything else is dropped. Rules of other groups on the same interface add to these. Terraform removes the allow-all egress rule AWS gives a new group, so outbound traffic is what the egress rules allow.")
	comment(b, "Names are their addresses at generation (/32, /128), the name in the rule's description; regenerate and apply again when they change. Wildcard domains cannot be written: use a DNS-aware firewall or a web proxy (--target squid).")
	comment(b, "ICMP: no rule here allows ICMP; for path MTU discovery allow inbound ICMP destination unreachable, fragmentation needed (type 3 code 4), and ICMPv6 packet too big (type 2).")
	in.WriteConstraints(b, "an AWS security group", g.action)
	target.WriteNotes(b, g.notes)
	refs := make([]string, len(g.rules))
	for i, r := range g.rules {
		refs[i] = Description(g.index.Comment(r.refs, DescriptionMax-40))
	}
	g.index.Write(b)
	b.WriteString("\n")
	vpc := "var.vpc_id"
	if g.t.VPCID == "" {
		b.WriteString("variable \"vpc_id\" {\n  type        = string\n  description = \"The VPC of the portolan security groups (vpc-...)\"\n}\n\n")
	} else {
		vpc = Quote(g.t.VPCID)
	}
	svcs := g.services()
	for i := 0; i < g.groups; i++ {
		name := "portolan-" + svcs
		desc := "portolan: " + strings.ReplaceAll(svcs, "-", " ")
		if g.groups > 1 {
			name += fmt.Sprintf("-%d", i+1)
			desc += fmt.Sprintf(" (group %d of %d)", i+1, g.groups)
		}
		fmt.Fprintf(b, "resource \"aws_security_group\" %q {\n", groupLabel(i))
		fmt.Fprintf(b, "  name        = %s\n", Quote(Description(name)))
		fmt.Fprintf(b, "  description = %s\n", Quote(Description(desc)))
		fmt.Fprintf(b, "  vpc_id      = %s\n", vpc)
		fmt.Fprintf(b, "  tags = {\n    Name = %s\n  }\n}\n\n", Quote(Description(name)))
	}
	var last []string
	for i, r := range g.rules {
		if cs := r.blocks.Lines(); !slices.Equal(cs, last) {
			for _, c := range cs {
				b.WriteString(c + "\n")
			}
			last = cs
		}
		desc := refs[i]
		if len(r.names) > 0 {
			desc = Description(desc + " " + strings.Join(r.names, " "))
		}
		fmt.Fprintf(b, "resource %q %q {\n", r.Type(), r.Label)
		fmt.Fprintf(b, "  security_group_id = aws_security_group.%s.id\n", groupLabel(r.Group))
		fmt.Fprintf(b, "  ip_protocol       = %q\n", r.Proto)
		fmt.Fprintf(b, "  from_port         = %d\n", r.From)
		fmt.Fprintf(b, "  to_port           = %d\n", r.To)
		if r.family() == 4 {
			fmt.Fprintf(b, "  cidr_ipv4         = %q\n", r.CIDR)
		} else {
			fmt.Fprintf(b, "  cidr_ipv6         = %q\n", r.CIDR)
		}
		fmt.Fprintf(b, "  description       = %s\n}\n\n", Quote(desc))
	}
	b.WriteString("output \"portolan_security_group_ids\" {\n  description = \"Attach these security groups to the instance's network interfaces\"\n  value       = [")
	for i := 0; i < g.groups; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "aws_security_group.%s.id", groupLabel(i))
	}
	b.WriteString("]\n}\n")
}

func (g *gen) varHint() string {
	if g.t.VPCID == "" {
		return " -var vpc_id=vpc-..."
	}
	return ""
}

// action says what a constraint means for a security group.
func (g *gen) action(c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		return fmt.Sprintf("%s — a security group has no application layer gateway: nothing to turn off here; check any NAT instance or appliance on the path.", c.Purpose)
	case model.KindNATTimeout:
		return g.natTimeout(c)
	case model.KindAllowByName:
		return fmt.Sprintf("%s — a security group holds addresses: the names are resolved at generation (see the rules' descriptions); regenerate and apply again when they change.", c.Purpose)
	}
	return target.ConstraintAction(c, "an AWS security group")
}

// Connection tracking idle timeouts of a network interface, as the EC2
// API documents them (ConnectionTrackingSpecificationRequest), in
// seconds: minimum, maximum and default.
var (
	TCPEstablished = Bounds{60, 432000, 432000}
	UDPStream      = Bounds{60, 180, 180}
	UDPSingle      = Bounds{30, 60, 30}
)

// Bounds are the documented minimum, maximum and default of a timeout.
type Bounds struct{ Min, Max, Default int }

// setting says how a timeout setting keeps entries at least want
// seconds, and the NAME=VALUE to set ("" when the default does): the
// value, or the maximum when the maximum falls short.
func (b Bounds) setting(name string, want int) (say, set string) {
	switch {
	case want <= b.Default:
		return fmt.Sprintf("%s: the default %d s is enough", name, b.Default), ""
	case want <= b.Max:
		v := fmt.Sprintf("%s=%d", name, max(want, b.Min))
		return v, v
	}
	return fmt.Sprintf("%s cannot reach %d s (at most %d): set %s=%d and have keep-alives more often than every %d s", name, want, b.Max, name, b.Max, b.Max), fmt.Sprintf("%s=%d", name, b.Max)
}

// natTimeout says how to keep a nat-timeout constraint's flows in the
// security group's connection tracking: the idle timeouts of the network
// interface (ModifyNetworkInterfaceAttribute), within their documented
// bounds.
func (g *gen) natTimeout(c resolve.Constraint) string {
	ts, err := target.Timeouts(c)
	if err != nil || len(ts) == 0 {
		return c.Purpose
	}
	var say, set []string
	for _, t := range ts {
		type one struct {
			b    Bounds
			name string
			want time.Duration
		}
		var ones []one
		if t.Proto == model.TCP {
			ones = []one{{TCPEstablished, "TcpEstablishedTimeout", t.Replied}}
		} else {
			ones = []one{{UDPSingle, "UdpTimeout", t.Unreplied}, {UDPStream, "UdpStreamTimeout", t.Replied}}
		}
		for _, o := range ones {
			s, kv := o.b.setting(o.name, int(o.want/time.Second))
			say = append(say, s)
			if kv != "" {
				set = append(set, kv)
			}
		}
	}
	cmd := ""
	if len(set) > 0 {
		cmd = " Set them on the instance's network interface: aws ec2 modify-network-interface-attribute --network-interface-id eni-... --connection-tracking-specification " + strings.Join(set, ",") + "."
	}
	return fmt.Sprintf("%s — a security group tracks connections with idle timeouts of the network interface: %s.%s%s", c.Purpose, strings.Join(say, "; "), cmd, target.Keepalive(c))
}

func comment(b *strings.Builder, text string) {
	for _, l := range target.Wrap("# ", text, 100) {
		b.WriteString(l + "\n")
	}
}
