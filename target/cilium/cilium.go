// Package cilium writes CiliumNetworkPolicy objects (cilium.io/v2), one
// per service, for the pods that --selector picks (host mode: the pods'
// ingress is the inbound flows, their egress the outbound ones). Unlike
// NetworkPolicy, Cilium allows DNS names: outbound flows to names become
// toFQDNs matchName rules, wildcard domains matchPattern rules, and every
// policy carries the DNS rule that FQDN policies need (egress to kube-dns
// on port 53 through Cilium's DNS proxy, rules.dns matchPattern "*").
// Addresses are toCIDRSet / fromCIDRSet; inbound flows from names use the
// names' addresses, resolved now. Each flow is one rule of the policy's
// specs, with the service, flow and document line as its description.
package cilium

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/portolan/portolan/internal/lazyre"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/k8ssel"
	"github.com/portolan/portolan/target/kubernetes"
)

func init() { target.Register(Target{}) }

var _ target.SiteChecker = Target{}

// Target is the CiliumNetworkPolicy target.
type Target struct{}

// Name is "cilium".
func (Target) Name() string { return "cilium" }

// Synopsis describes the output.
func (Target) Synopsis() string {
	return "CiliumNetworkPolicy (cilium.io/v2) per service for the pods of --selector (--mode host): toFQDNs names and wildcards, CIDRs, port + endPort"
}

// Resolves is true: inbound flows from names need their addresses;
// outbound ones keep the names (toFQDNs), and --no-resolve is enough for
// them.
func (Target) Resolves() bool { return true }

// CheckSite refuses what a pod's policy cannot say (gateway mode,
// --chain-only), before any name is resolved.
func (Target) CheckSite(site policy.Site, opt target.Options) error {
	return kubernetes.CheckSite(&target.Input{Site: site, Options: opt}, "cilium")
}

// Flags adds --selector and --namespace, shared with --target kubernetes.
func (Target) Flags(fs *pflag.FlagSet) { k8ssel.Flags(fs) }

// Kube-dns as Cilium selects it: Kubernetes labels carry the k8s: source,
// the namespace is a label of its own.
const (
	DNSNamespaceLabel = "k8s:io.kubernetes.pod.namespace"
	DNSAppLabel       = "k8s:" + kubernetes.DNSLabelKey
)

// Patterns of the CRD's schema for toFQDNs.
var (
	matchNameRe    = lazyre.New(`^([-a-zA-Z0-9_]+[.]?)+$`)
	matchPatternRe = lazyre.New(`^([-a-zA-Z0-9_*]+[.]?)+$`)
)

// MaxPorts is the most ports (or ranges) Cilium takes in one port rule.
const MaxPorts = 40

// wildcardSkip is how policy.Plan says a flow reaches wildcard domains only.
const wildcardSkip = "wildcard domains only"

// Write writes one CiliumNetworkPolicy per service as a multi-document
// YAML stream for kubectl apply -f.
func (Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	var res target.Result
	if err := kubernetes.CheckSite(in, "cilium"); err != nil {
		return res, err
	}
	sel, err := k8ssel.Shared.LabelSelector()
	if err != nil {
		return res, err
	}
	if err := k8ssel.Shared.CheckNamespace(); err != nil {
		return res, err
	}
	// Flows the plan leaves out for their wildcards are Cilium's to write.
	taken := map[*resolve.Concrete]bool{}
	for _, s := range in.Skips {
		if s.Flow.Direction == model.Outbound && strings.HasPrefix(s.Reason, wildcardSkip) {
			taken[s.Flow] = true
		}
	}
	for _, n := range in.Notes() {
		// toFQDNs says wildcard domains and host-name patterns: the
		// resolver's warning that no address list can is not this target's.
		if !wildcardNote(n, taken) && !strings.Contains(n, "is a wildcard domain: no address list can say it") &&
			!strings.Contains(n, "is a host-name pattern: no address list can say it") {
			res.Notes = append(res.Notes, n)
		}
	}
	var docs []string
	for _, c := range in.Choices {
		slug := c.Service.Slug()
		p, notes, err := Build(in, slug, *sel, k8ssel.Shared.Namespace, taken, &res.Stats)
		if err != nil {
			return res, err
		}
		res.Notes = append(res.Notes, notes...)
		data, err := yaml.Marshal(p)
		if err != nil {
			return res, fmt.Errorf("%s: %v", slug, err)
		}
		head := target.Wrap("# ", fmt.Sprintf("%s: %s (%s)", p.Metadata.Name, c.Service.Info.Name, c.Service.Info.Document), 100)
		docs = append(docs, strings.Join(head, "\n")+"\n"+string(data))
	}
	var b strings.Builder
	in.WriteHeader(&b, "portolan rules for Cilium: CiliumNetworkPolicy (cilium.io/v2), one per service")
	b.WriteString("#\n")
	for _, l := range []string{
		"Apply: kubectl apply -f FILE (add -n NAMESPACE unless --namespace was given). Undo: kubectl delete -f FILE, or kubectl delete ciliumnetworkpolicy -l app.kubernetes.io/managed-by=portolan.",
		"The pods of --selector " + target.OneLine(k8ssel.Shared.Selector) + " take only what these policies (and any other policy that selects them) allow: every rule sets enableDefaultDeny for ingress and egress. Replies to allowed connections pass by themselves.",
		"Names are allowed as names (toFQDNs): Cilium learns their addresses from the pods' own DNS answers, through its DNS proxy, which the first rule of each policy sends the pods' DNS to (kube-dns, port 53, rules.dns matchPattern \"*\"). A wildcard *.example.com is matchName example.com, matchPattern *.example.com (one label) and **.example.com (every depth, on Cilium versions that know **.).",
		"Port ranges (endPort) and enableDefaultDeny need Cilium 1.16 or later; port \"0\" is every port of the protocol.",
		"Each rule's description names the service, the flow and the line of the vendor's document it comes from.",
	} {
		for _, w := range target.Wrap("# ", l, 100) {
			b.WriteString(w + "\n")
		}
	}
	in.WriteConstraints(&b, "a CiliumNetworkPolicy", action)
	target.WriteNotes(&b, res.Notes)
	b.WriteString(strings.Join(docs, "---\n"))
	_, err = io.WriteString(w, b.String())
	return res, err
}

func action(c resolve.Constraint) string {
	if c.Kind == model.KindAllowByName {
		return c.Purpose + " — outbound flows to these names are toFQDNs rules: allowed by name, with the addresses the pods' DNS answers give."
	}
	return kubernetes.ConstraintAction(c, "a CiliumNetworkPolicy")
}

// wildcardNote reports whether n is the plan's note about a flow this
// target writes all the same.
func wildcardNote(n string, taken map[*resolve.Concrete]bool) bool {
	for f := range taken {
		if strings.HasPrefix(n, "skipped: "+target.FlowRef(f)+": "+wildcardSkip) {
			return true
		}
	}
	return false
}

// flowRules are the rules of one flow, families together.
type flowRules struct {
	flow  *resolve.Concrete
	rules []*policy.Rule
}

// Build makes the CiliumNetworkPolicy of one service; notes say what it
// leaves out or widens.
func Build(in *target.Input, slug string, sel k8ssel.LabelSelector, namespace string, wild map[*resolve.Concrete]bool, st *target.Stats) (*Policy, []string, error) {
	name, err := k8ssel.PolicyName(slug)
	if err != nil {
		return nil, nil, err
	}
	p := &Policy{
		APIVersion: APIVersion, Kind: Kind,
		Metadata: k8ssel.ObjectMeta{
			Name: name, Namespace: namespace,
			Labels: map[string]string{kubernetes.LabelManagedBy: "portolan", kubernetes.LabelService: k8ssel.LabelValue(slug)},
		},
	}
	if c := in.Choice(slug); c != nil {
		p.Metadata.Annotations = map[string]string{kubernetes.AnnSource: target.OneLine(c.Service.Info.Document)}
	}
	dns := newRule(sel, "portolan "+slug+": DNS to kube-dns through Cilium's DNS proxy, which toFQDNs rules need")
	dns.Egress = []EgressRule{DNSRule()}
	p.Specs = append(p.Specs, dns)
	st.Rules++
	// The plan's rules by flow, in order; then the flows to wildcards only.
	var order []*flowRules
	byFlow := map[*resolve.Concrete]*flowRules{}
	for i := range in.Rules {
		r := &in.Rules[i]
		if r.Flow.Service != slug {
			continue
		}
		fr := byFlow[r.Flow]
		if fr == nil {
			fr = &flowRules{flow: r.Flow}
			byFlow[r.Flow] = fr
			order = append(order, fr)
		}
		fr.rules = append(fr.rules, r)
	}
	for _, s := range in.Skips {
		if wild[s.Flow] && s.Flow.Service == slug {
			order = append(order, &flowRules{flow: s.Flow})
		}
	}
	var notes []string
	for _, fr := range order {
		rule, ns, err := flowRule(in, fr, sel, st)
		if err != nil {
			return nil, nil, err
		}
		notes = append(notes, ns...)
		if rule != nil {
			p.Specs = append(p.Specs, *rule)
		}
	}
	return p, notes, nil
}

func newRule(sel k8ssel.LabelSelector, desc string) Rule {
	yes := true
	return Rule{EndpointSelector: sel, EnableDefaultDeny: &DefaultDeny{Ingress: &yes, Egress: &yes}, Description: target.OneLine(desc)}
}

// DNSRule is the egress rule to kube-dns through the DNS proxy.
func DNSRule() EgressRule {
	return EgressRule{
		ToEndpoints: []k8ssel.LabelSelector{{MatchLabels: map[string]string{DNSNamespaceLabel: kubernetes.DNSNamespace, DNSAppLabel: kubernetes.DNSLabelVal}}},
		ToPorts: []PortRule{{
			Ports: []PortProtocol{{Port: "53", Protocol: "UDP"}, {Port: "53", Protocol: "TCP"}},
			Rules: &L7Rules{DNS: []FQDNSelector{{MatchPattern: "*"}}},
		}},
	}
}

// flowRule writes one flow's rules (both families) as one rule of specs.
func flowRule(in *target.Input, fr *flowRules, sel k8ssel.LabelSelector, st *target.Stats) (*Rule, []string, error) {
	f := fr.flow
	ref := target.FlowRef(f)
	var notes []string
	proto, err := kubernetes.Protocol(f.Proto)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", ref, err)
	}
	ports := f.Ports
	if !in.Options.AllAlternatives {
		ports = f.Preferred()
	}
	var srcPorts model.PortSet
	var cidrs []string
	var fqdns []FQDNSelector
	var unresolved []string
	for _, r := range fr.rules {
		ports, srcPorts = r.Match.DstPorts, r.Match.SrcPorts
		switch r.Hook {
		case policy.Output:
			if r.Match.AnyDst() {
				cidrs = append(cidrs, all(r.Match.Family))
				continue
			}
			for _, p := range r.Match.Dst {
				cidrs = append(cidrs, model.UnmapPrefix(p).Masked().String())
			}
			for _, n := range r.Match.DstNames {
				fqdns = append(fqdns, FQDNSelector{MatchName: n.Name})
			}
		case policy.Input:
			if r.Match.AnySrc() {
				cidrs = append(cidrs, all(r.Match.Family))
				continue
			}
			addrs := r.Match.SrcAddrs()
			for _, p := range addrs {
				cidrs = append(cidrs, model.UnmapPrefix(p).Masked().String())
			}
			if len(addrs) == 0 {
				for _, n := range r.Match.SrcNames {
					unresolved = append(unresolved, fmt.Sprintf("%s (IPv%d)", n.Name, r.Match.Family))
				}
			}
		default:
			return nil, nil, fmt.Errorf("%s: a %s rule in host mode (this is a bug)", ref, r.Hook)
		}
	}
	if f.Direction == model.Outbound {
		ws, wn, err := wildcards(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", ref, err)
		}
		fqdns = append(fqdns, ws...)
		notes = append(notes, wn...)
	} else if len(f.Wildcards) > 0 {
		notes = append(notes, fmt.Sprintf("left out: %s: inbound from wildcard domains %s: Cilium allows names only for egress (toFQDNs); allow the senders' networks with --param or a profile of your own", ref, strings.Join(f.Wildcards, ", ")))
	}
	if len(unresolved) > 0 {
		notes = append(notes, fmt.Sprintf("left out: %s: inbound from %s: no address, and Cilium allows names only for egress; resolve them (leave out --no-resolve, or pin them with --hosts) and regenerate", ref, strings.Join(unresolved, ", ")))
	}
	if !srcPorts.Empty() {
		notes = append(notes, fmt.Sprintf("widened: %s: source ports %s: Cilium matches destination ports only, so any source port is allowed", ref, srcPorts))
	}
	cidrs = dedupe(cidrs)
	fqdns = dedupeFQDN(fqdns)
	if len(cidrs) == 0 && len(fqdns) == 0 {
		return nil, notes, nil
	}
	// Cilium takes at most MaxPorts ports in one port rule.
	var toPorts []PortRule
	for pp := Ports(string(proto), ports); len(pp) > 0; {
		n := min(len(pp), MaxPorts)
		toPorts = append(toPorts, PortRule{Ports: pp[:n]})
		pp = pp[n:]
	}
	desc := fmt.Sprintf("portolan %s (%s %s, %s): %s", target.RuleComment(&policy.Rule{Flow: f}), f.Direction, f.Proto, f.Necessity, f.Purpose)
	rule := newRule(sel, target.Truncate(target.OneLine(desc), 1024))
	var set []CIDRRule
	for _, c := range cidrs {
		set = append(set, CIDRRule{Cidr: c})
	}
	if f.Direction == model.Outbound {
		// toFQDNs takes no other to* selector in the same rule.
		if len(fqdns) > 0 {
			rule.Egress = append(rule.Egress, EgressRule{ToFQDNs: fqdns, ToPorts: toPorts})
		}
		if len(set) > 0 {
			rule.Egress = append(rule.Egress, EgressRule{ToCIDRSet: set, ToPorts: toPorts})
		}
	} else {
		rule.Ingress = append(rule.Ingress, IngressRule{FromCIDRSet: set, ToPorts: toPorts})
	}
	st.Rules += len(rule.Egress) + len(rule.Ingress)
	st.Elements += len(set)
	st.Names += len(fqdns)
	st.PortSets += len(rule.Egress) + len(rule.Ingress)
	st.Ports += (len(rule.Egress) + len(rule.Ingress)) * len(Ports(string(proto), ports))
	return &rule, notes, nil
}

// wildcards writes a flow's wildcard domains and host-name patterns as
// FQDN selectors.
func wildcards(f *resolve.Concrete) ([]FQDNSelector, []string, error) {
	var out []FQDNSelector
	var notes []string
	for _, d := range f.Dest {
		e, err := model.ParseEntry(d)
		if err != nil {
			return nil, nil, err
		}
		switch e.Kind {
		case model.EntryWildcard:
			out = append(out, FQDNSelector{MatchName: e.Domain}, FQDNSelector{MatchPattern: "*." + e.Domain}, FQDNSelector{MatchPattern: "**." + e.Domain})
		case model.EntryGlob:
			if matchPatternRe.MatchString(d) && !strings.Contains(d, "**") {
				out = append(out, FQDNSelector{MatchPattern: d})
				continue
			}
			out = append(out, FQDNSelector{MatchName: e.Domain}, FQDNSelector{MatchPattern: "*." + e.Domain}, FQDNSelector{MatchPattern: "**." + e.Domain})
			notes = append(notes, fmt.Sprintf("widened: %s: %s is allowed as *.%s (matchPattern takes letters, digits, '-', '_' and '*' only)", target.FlowRef(f), d, e.Domain))
		}
	}
	return out, notes, nil
}

// Ports writes a port set as PortProtocols: a port, or a range as port
// and endPort; an empty set is port "0", every port of the protocol.
func Ports(proto string, ps model.PortSet) []PortProtocol {
	if ps.Empty() {
		return []PortProtocol{{Port: "0", Protocol: proto}}
	}
	var out []PortProtocol
	for _, r := range ps.Ranges() {
		p := PortProtocol{Port: strconv.Itoa(int(r.Lo)), Protocol: proto}
		if r.Hi > r.Lo {
			p.EndPort = int32(r.Hi)
		}
		out = append(out, p)
	}
	return out
}

func all(family int) string {
	if family == 6 {
		return "::/0"
	}
	return "0.0.0.0/0"
}

// dedupe sorts prefixes, IPv4 first, and drops repeats.
func dedupe(cidrs []string) []string {
	sort.Slice(cidrs, func(i, j int) bool {
		a, _ := netip.ParsePrefix(cidrs[i])
		b, _ := netip.ParsePrefix(cidrs[j])
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	return slices.Compact(cidrs)
}

func dedupeFQDN(fs []FQDNSelector) []FQDNSelector {
	var out []FQDNSelector
	for _, f := range fs {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// ValidFQDN reports whether a selector fits the CRD's schema: one of
// matchName and matchPattern, at most 255 characters, of the allowed
// characters.
func ValidFQDN(f FQDNSelector) bool {
	switch {
	case f.MatchName != "" && f.MatchPattern == "":
		return len(f.MatchName) <= 255 && matchNameRe.MatchString(f.MatchName)
	case f.MatchPattern != "" && f.MatchName == "":
		return len(f.MatchPattern) <= 255 && matchPatternRe.MatchString(f.MatchPattern)
	}
	return false
}
