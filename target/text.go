package target

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portolan/portolan/internal/textsafe"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// OneLine makes s fit for one comment line of generated configuration
// (textsafe.Comment): every run of white space, newlines included, becomes
// one space; control characters, bidirectional overrides (U+202E),
// zero-width and other format characters and invalid bytes go. Every
// comment a target writes passes through it, most through Wrap and
// Quotable.
func OneLine(s string) string {
	return strings.Join(strings.Fields(textsafe.Comment(s)), " ")
}

// Quotable makes s safe inside a double-quoted string of a firewall
// config (nftables, iptables-restore): one line, no double quotes or
// backslashes, at most max bytes, cut on a character boundary.
func Quotable(s string, max int) string {
	s = quoteSafe.Replace(OneLine(s))
	return Truncate(s, max)
}

var quoteSafe = strings.NewReplacer(`"`, "'", `\`, "/", "`", "'")

// Truncate cuts s to at most max bytes on a character boundary, marking
// the cut with "…" when there is room.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	if cut < 0 {
		cut = max
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if max >= len("…") {
		return s[:cut] + "…"
	}
	return s[:cut]
}

// FlowRef names a flow: "starleaf/tunnel-udp".
func FlowRef(f *resolve.Concrete) string { return f.Service + "/" + f.ID }

// SourceRef names where a statement comes from: "000_5789b0e057a19555.txt:16".
func SourceRef(s model.Source) string {
	if s.Line > 0 {
		return fmt.Sprintf("%s:%d", s.Document, s.Line)
	}
	return s.Document
}

// RuleComment is the comment every rule carries: service, flow id, and
// the document and line the flow comes from.
func RuleComment(r *policy.Rule) string {
	return FlowRef(r.Flow) + " " + SourceRef(r.Flow.Source)
}

// RefIndex numbers the rules whose flows do not all fit in their comment
// (nftables keeps 128 bytes, iptables 255), so that the header can list
// them whole: a comment never hides a flow behind "+N more".
type RefIndex struct {
	entries [][]string
}

// Comment is the comment of a rule that stands for the flows refs
// ("service/flow document:line"), at most max bytes: all of refs when they
// fit; else "index N (K flows): service/flow, …", with every flow, the
// list cut only where max cuts it, and N an entry of the header's index
// that holds refs whole.
func (x *RefIndex) Comment(refs []string, max int) string {
	full := Quotable(strings.Join(refs, ", "), max+1)
	if len(full) <= max || len(refs) < 2 {
		return Quotable(full, max)
	}
	x.entries = append(x.entries, slices.Clone(refs))
	flows := make([]string, len(refs))
	for i, r := range refs {
		flows[i], _, _ = strings.Cut(r, " ")
	}
	return Quotable(fmt.Sprintf("index %d (%d flows): %s", len(x.entries), len(refs), strings.Join(flows, ", ")), max)
}

// Write writes the index as comments; nothing when it is empty.
func (x *RefIndex) Write(b *strings.Builder) {
	if len(x.entries) == 0 {
		return
	}
	b.WriteString("#\n# Index of the rules that stand for more flows than their comment holds (comment \"index N\"):\n")
	for i, refs := range x.entries {
		fmt.Fprintf(b, "#   index %d (%d flows):\n", i+1, len(refs))
		for _, r := range refs {
			b.WriteString("#     " + OneLine(r) + "\n")
		}
	}
}

// Notes are the lines a firewall target reports on stderr: the warnings of
// resolution, the flows the plan skipped, and the flows the options left
// out; one line each.
func (in *Input) Notes() []string {
	var out []string
	// A warning about a name is said once, with the flows it concerns,
	// not once per flow.
	var msgs []string
	flows := map[string][]string{}
	for _, w := range in.Warnings {
		m := msgLine(w.Msg)
		if _, ok := flows[m]; !ok {
			msgs = append(msgs, m)
		}
		if ref := w.Service + "/" + w.Flow; !slices.Contains(flows[m], ref) {
			flows[m] = append(flows[m], ref)
		}
	}
	for _, m := range msgs {
		what := "; flow "
		if len(flows[m]) > 1 {
			what = "; flows "
		}
		out = append(out, "warning: "+m+what+strings.Join(flows[m], ", "))
	}
	for _, s := range in.Skips {
		out = append(out, "skipped: "+FlowRef(s.Flow)+": "+OneLine(s.Reason))
	}
	for _, s := range in.Excluded {
		out = append(out, "skipped: "+FlowRef(s.Flow)+": "+OneLine(s.Reason))
	}
	return out
}

// msgLine writes a message of several lines as one, its lines joined by
// "; ".
func msgLine(msg string) string {
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if l = OneLine(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// Header describes the output for its first comment lines: what made it,
// when, for which services, features, params and site, and where names'
// addresses come from. Lines carry no comment marker.
func (in *Input) Header(title string) []string {
	var out []string
	out = append(out, title)
	gen := "generated " + in.Generated.UTC().Format(time.RFC3339)
	if in.Version != "" {
		gen += " by portolan " + in.Version
	}
	out = append(out, gen)
	if in.Command != "" {
		out = append(out, "command: "+OneLine(in.Command))
	}
	for _, c := range in.Choices {
		s := c.Service
		line := fmt.Sprintf("service %s: %s (%s", s.Slug(), OneLine(s.Info.Name), OneLine(s.Info.Document))
		if s.Info.Revision != "" {
			line += ", " + OneLine(s.Info.Revision)
		}
		line += ")"
		if on := c.EnabledFeatures(); len(on) > 0 {
			line += "; features on: " + strings.Join(on, ", ")
		}
		if off := c.DisabledFeatures(); len(off) > 0 {
			line += "; off: " + strings.Join(off, ", ")
		}
		var ps []string
		for _, p := range s.Params {
			if v, ok := c.Params[p.Name]; ok {
				ps = append(ps, p.Name+"="+OneLine(v))
			}
		}
		if len(ps) > 0 {
			line += "; params: " + strings.Join(ps, ", ")
		}
		out = append(out, line)
	}
	out = append(out, "site: "+SiteText(in.Site))
	o := in.Options
	flows := "flows: required and recommended"
	if o.RequiredOnly {
		flows = "flows: required only (--required-only)"
	}
	if o.Optional {
		flows += ", and optional ones (--optional)"
	} else {
		flows += "; optional ones are left out (--optional takes them in)"
	}
	if o.AllAlternatives {
		flows += "; one-of groups open every port (--alternatives all)"
	} else {
		flows += "; one-of groups open their preferred port (--alternatives all opens every one)"
	}
	out = append(out, flows)
	if in.Resolver != "" {
		out = append(out, "names: "+OneLine(in.Resolver))
	}
	for _, c := range in.Choices {
		for _, h := range c.Service.Hosts {
			if h.Feed == nil {
				continue
			}
			about := "source " + h.Feed.Origin() + " not fetched"
			if f := c.Feed(h.Name); f != nil && f.Err != "" {
				about = "no address: " + f.Err
			} else if f != nil {
				about = f.About
			}
			out = append(out, fmt.Sprintf("feed of %s host set %s: %s", c.Service.Slug(), h.Name, OneLine(about)))
		}
	}
	return out
}

// WriteHeader writes the Header's lines as "# " comments, wrapped at 100
// columns but for the command line, which stays one line so that it can
// be copied as it is.
func (in *Input) WriteHeader(b *strings.Builder, title string) {
	for _, l := range in.Header(title) {
		if strings.HasPrefix(l, "command: ") {
			b.WriteString("# " + l + "\n")
			continue
		}
		for _, w := range Wrap("# ", l, 100) {
			b.WriteString(w + "\n")
		}
	}
}

// SyncLine is the command that refreshes the names' sets, as one comment
// line ("# portolan sync …") that runs as written once "# " is removed;
// "" when there is none.
func (in *Input) SyncLine() string {
	if in.Sync == "" {
		return ""
	}
	return "# " + OneLine(in.Sync)
}

// SiteText describes the site in words.
func SiteText(s policy.Site) string {
	var b strings.Builder
	switch s.Mode {
	case policy.Gateway:
		b.WriteString("gateway (the forward path of a router")
		if s.LANIf != "" || s.WANIf != "" {
			fmt.Fprintf(&b, " from LAN interface %s to WAN interface %s", orAny(s.LANIf), orAny(s.WANIf))
		}
		b.WriteString(")")
	case policy.Host:
		b.WriteString("host (the input and output of the machine itself)")
	default:
		b.WriteString(string(s.Mode))
	}
	if len(s.LAN) > 0 {
		b.WriteString("; LAN " + joinPrefixes(s.LAN))
	} else if s.Mode == policy.Gateway {
		b.WriteString("; LAN not given (--lan): outbound flows from any source")
	} else if s.Mode == policy.Host {
		b.WriteString("; LAN not given (--lan): flows to or from the LAN accept any address")
	}
	return b.String()
}

func orAny(s string) string {
	if s == "" {
		return "(any)"
	}
	return s
}

func joinPrefixes(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}

// ConstraintRef names a constraint: "tw-solutions/nat-keepalive (nat-timeout, 002_….txt:37)".
func ConstraintRef(c resolve.Constraint) string {
	return fmt.Sprintf("%s/%s (%s, %s)", c.Service, c.ID, c.Kind, SourceRef(c.Source))
}

// Wrap breaks text into lines of at most width columns (a longer word
// stays whole), each starting with prefix; continuation lines are indented.
func Wrap(prefix, text string, width int) []string {
	var out []string
	var b strings.Builder
	n := 0 // runes on the current line, prefix included
	pre := utf8.RuneCountInString(prefix)
	for _, w := range strings.Fields(OneLine(text)) {
		wl := utf8.RuneCountInString(w)
		switch {
		case b.Len() == 0:
			b.WriteString(prefix)
			b.WriteString(w)
			n = pre + wl
		case n+1+wl > width:
			out = append(out, b.String())
			b.Reset()
			b.WriteString(prefix)
			b.WriteString("  ")
			b.WriteString(w)
			n = pre + 2 + wl
		default:
			b.WriteByte(' ')
			b.WriteString(w)
			n += 1 + wl
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// ConstraintApplies reports whether constraint c concerns flow f: the
// same service, and the flows, apps, protocols and ports it names, if any.
func (in *Input) ConstraintApplies(c resolve.Constraint, f *resolve.Concrete) bool {
	if f.Service != c.Service {
		return false
	}
	if len(c.Flows) > 0 && !slices.Contains(c.Flows, f.Flow.Flow) ||
		len(c.Apps) > 0 && !slices.Contains(c.Apps, f.App) ||
		len(c.Proto) > 0 && !slices.Contains(c.Proto, f.Proto) {
		return false
	}
	if len(c.Ports) > 0 {
		var cp model.PortSet
		for _, p := range c.Ports {
			r, err := model.ParsePortRange(p)
			if err != nil {
				return false
			}
			cp = cp.Add(r)
		}
		if f.Ports.Intersect(cp).Empty() {
			return false
		}
	}
	return true
}

// Hosts lists a constraint's host entries, or "" for none.
func Hosts(c resolve.Constraint) string { return strings.Join(c.Hosts, ", ") }

// MinTimeout parses a nat-timeout constraint's binding lifetime.
func MinTimeout(c resolve.Constraint) (time.Duration, error) {
	d, err := time.ParseDuration(c.MinTimeout)
	if err != nil {
		return 0, fmt.Errorf("%s/%s: min_timeout %q: %v", c.Service, c.ID, c.MinTimeout, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s/%s: min_timeout %q is not positive", c.Service, c.ID, c.MinTimeout)
	}
	return d, nil
}

// FlowComments are the comment lines (marked "# ") a packet filter writes
// above a flow's rules: the flow, what it is for, how a one-of group's
// choice was made and, for a port forward, where it goes.
func (in *Input) FlowComments(r *policy.Rule) []string {
	f := r.Flow
	head := fmt.Sprintf("%s (%s %s, %s", FlowRef(f), f.Direction, f.Proto, f.Necessity)
	if f.Feature != "" {
		head += ", feature " + f.Feature
	}
	head += "): " + f.Purpose
	out := Wrap("# ", head, 100)
	if f.OneOf && len(f.PortOrder) > 1 {
		var order []string
		for _, p := range f.PortOrder {
			order = append(order, p.String())
		}
		if in.Options.AllAlternatives {
			out = append(out, "# one of "+strings.Join(order, ", ")+" is enough; every one is open (--alternatives all)")
		} else {
			out = append(out, "# one of "+strings.Join(order, ", ")+" is enough; the preferred "+order[0]+" is open (--alternatives all opens every one)")
		}
	}
	if r.Hook == policy.Prerouting {
		out = append(out, "# "+OneLine(fmt.Sprintf("port forward to the %s at %s, ports unchanged", f.Local, r.DNAT)))
	}
	return out
}

// Comments is the comment block above a rule that stands for several
// flows: each flow's block once, whole and in the order the flows joined.
// Adding a block costs its own length, whatever the rule holds already,
// so that merging n flows stays linear.
type Comments struct {
	lines []string
	first string          // the first block, joined
	seen  map[string]bool // the others, once there are any
}

// NewComments starts a rule's comments with block (which it copies).
func NewComments(block []string) *Comments {
	c := &Comments{}
	c.Add(block)
	return c
}

// Add appends block unless the same block was added before.
func (c *Comments) Add(block []string) {
	if len(block) == 0 {
		return
	}
	k := strings.Join(block, "\n")
	switch {
	case len(c.lines) == 0:
		c.first = k
	case k == c.first || c.seen[k]:
		return
	default:
		if c.seen == nil {
			c.seen = map[string]bool{}
		}
		c.seen[k] = true
	}
	c.lines = append(c.lines, block...)
}

// Lines returns the comment lines; the caller must not modify them.
func (c *Comments) Lines() []string {
	if c == nil {
		return nil
	}
	return c.lines
}

// ConstraintAction says what a constraint means for a packet filter
// called platform that sees addresses and ports only. Targets say more
// for the kinds they act on (ALG, NAT timeout, names) and fall back to it.
func ConstraintAction(c resolve.Constraint, platform string) string {
	switch c.Kind {
	case model.KindTLSMin:
		return fmt.Sprintf("%s — %s does not see TLS versions; a TLS-inspecting proxy or firewall on the path must not negotiate below TLS %s on ports %s.", c.Purpose, platform, c.MinVersion, strings.Join(c.Ports, ", "))
	case model.KindSSLInspectionOff:
		return fmt.Sprintf("%s — %s does not inspect TLS; exempt %s from inspection on your proxy (portolan rules --target squid writes ssl_bump splice for them).", c.Purpose, platform, Hosts(c))
	case model.KindProxyAuth:
		return fmt.Sprintf("%s — a web proxy on the path must offer %s authentication for these flows.", c.Purpose, strings.Join(c.Allowed, " or "))
	case model.KindNoInbound:
		return fmt.Sprintf("%s — no port forward and no inbound accept for %s.", c.Purpose, c.Service)
	case model.KindViaProxy:
		return fmt.Sprintf("%s — meant for the web proxy (portolan rules --target squid); flows the plan allows directly are below.", c.Purpose)
	case model.KindDynamicSrcPorts:
		return fmt.Sprintf("%s — no rule here matches a source port.", c.Purpose)
	case model.KindPortPreservingNAT:
		return fmt.Sprintf("%s — these rules rewrite no source port (no SNAT or masquerade); where the site's NAT does, keep %s %s unchanged: a static port mapping, no random or fully-random port allocation.", c.Purpose, strings.Join(c.Proto, "/"), strings.Join(c.Ports, ","))
	case model.KindSetting:
		return "not a network setting: " + c.Purpose
	}
	return c.Purpose
}

// WriteConstraints writes, as comments, what each constraint of the input
// asks of platform, in the words of action.
func (in *Input) WriteConstraints(b *strings.Builder, platform string, action func(resolve.Constraint) string) {
	if len(in.Constraints) == 0 {
		return
	}
	b.WriteString("#\n# Constraints that are not ports, and what they mean for " + platform + ":\n")
	for _, c := range in.Constraints {
		for _, l := range Wrap("#   ", ConstraintRef(c)+": "+action(c), 100) {
			b.WriteString(l + "\n")
		}
	}
}

// WriteNotes writes a target's notes (what the output leaves out, and
// why) as comments.
func WriteNotes(b *strings.Builder, notes []string) {
	if len(notes) == 0 {
		return
	}
	b.WriteString("#\n# Not in the rules, and why:\n")
	for _, n := range notes {
		for _, l := range Wrap("#   ", n, 100) {
			b.WriteString(l + "\n")
		}
	}
}

// Keepalive is the sentence about a nat-timeout constraint's keep-alive
// interval, with a leading space, or "" when it names none.
func Keepalive(c resolve.Constraint) string {
	if c.Keepalive == "" {
		return ""
	}
	return " Keep-alives every " + c.Keepalive + "."
}

// Timeout is what a nat-timeout constraint asks of conntrack for one
// protocol: entries of its flows live at least Unreplied before a reply,
// Replied after.
type Timeout struct {
	C                  resolve.Constraint
	Proto              string // udp or tcp
	Unreplied, Replied time.Duration
}

// Timeouts returns the conntrack timeouts of the nat-timeout constraints
// among cs, one per protocol they name (UDP when they name none):
// never below the kernel's defaults (30 s unreplied UDP, 180 s for a UDP
// stream and for the replied state written here).
func Timeouts(cs ...resolve.Constraint) ([]Timeout, error) {
	var out []Timeout
	for _, c := range cs {
		if c.Kind != model.KindNATTimeout {
			continue
		}
		min, err := MinTimeout(c)
		if err != nil {
			return nil, err
		}
		protos := c.Proto
		if len(protos) == 0 {
			protos = []string{model.UDP}
		}
		for _, p := range protos {
			if p == model.UDP || p == model.TCP {
				out = append(out, Timeout{C: c, Proto: p, Unreplied: max(min, 30*time.Second), Replied: max(min, 180*time.Second)})
			}
		}
	}
	return out, nil
}

// Sysctl is the machine-wide alternative: the sysctl command that gives
// every flow of the protocol at least these timeouts.
func (t Timeout) Sysctl() string {
	if t.Proto == model.TCP {
		return fmt.Sprintf("sysctl -w net.netfilter.nf_conntrack_tcp_timeout_established=%d", int(t.Replied/time.Second))
	}
	return fmt.Sprintf("sysctl -w net.netfilter.nf_conntrack_udp_timeout=%d net.netfilter.nf_conntrack_udp_timeout_stream=%d", int(t.Unreplied/time.Second), int(t.Replied/time.Second))
}
