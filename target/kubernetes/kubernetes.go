// Package kubernetes writes Kubernetes NetworkPolicy objects
// (networking.k8s.io/v1), one per service, for the pods that --selector
// picks: the pods are the host (host mode), so the inbound flows become
// ingress rules and the outbound ones egress rules, with the remote
// addresses as ipBlock peers (names resolved now, /32 and /128) and
// the ports as port + endPort. Each policy has policyTypes Ingress and
// Egress, so the pods drop what no policy allows, and an egress rule to
// the cluster DNS (kube-dns), which a default-deny egress needs.
//
// NetworkPolicy holds no names, no wildcard domains and no source ports;
// what it cannot say is a note on stderr and in the output's header, with
// what to do instead (--target cilium for names).
package kubernetes

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/k8ssel"
)

func init() { target.Register(Target{}) }

var _ target.SiteChecker = Target{}

// Target is the NetworkPolicy target.
type Target struct{}

// Name is "kubernetes".
func (Target) Name() string { return "kubernetes" }

// Synopsis describes the output.
func (Target) Synopsis() string {
	return "Kubernetes NetworkPolicy (networking.k8s.io/v1) per service for the pods of --selector (--mode host): ipBlock peers, port + endPort"
}

// Resolves is true: NetworkPolicy holds addresses only.
func (Target) Resolves() bool { return true }

// Flags adds --selector and --namespace, shared with --target cilium.
func (Target) Flags(fs *pflag.FlagSet) { k8ssel.Flags(fs) }

// Annotation keys the policies carry.
const (
	// AnnFlows lists each rule with the flow it stands for:
	// "egress[1]: starleaf/tunnel-udp 000_….txt:16".
	AnnFlows = "portolan.io/flows"
	// AnnNames lists the names whose addresses the ipBlocks hold.
	AnnNames = "portolan.io/names"
	// AnnSource names the vendor documents.
	AnnSource = "portolan.io/source"
	// LabelService carries the service's slug; LabelManagedBy "portolan".
	LabelService   = "portolan.io/service"
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// DNSNamespace and DNSLabels select the cluster DNS pods (CoreDNS keeps
// the k8s-app=kube-dns label of kube-dns); kubernetes.io/metadata.name is
// the label every namespace carries since Kubernetes 1.22.
const (
	DNSNamespace = "kube-system"
	DNSLabelKey  = "k8s-app"
	DNSLabelVal  = "kube-dns"
	NSNameLabel  = "kubernetes.io/metadata.name"
)

// CheckSite refuses what the Kubernetes targets cannot write: gateway
// mode (a pod has no forward path and no port forwards: its ingress and
// egress are a host's input and output) and --chain-only.
func CheckSite(in *target.Input, name string) error {
	return checkSite(in.Site, in.Options, name)
}

// CheckSite is the package's CheckSite, asked by rules before any name is
// resolved.
func (Target) CheckSite(site policy.Site, opt target.Options) error {
	return checkSite(site, opt, "kubernetes")
}

func checkSite(site policy.Site, opt target.Options, name string) error {
	if site.Mode != policy.Host {
		return fmt.Errorf("--target %s writes policies for pods, which are hosts: give --mode host (ingress is the inbound flows, egress the outbound ones); gateway mode's forward path and port forwards have no form in a pod's policy", name)
	}
	if opt.ChainOnly {
		return fmt.Errorf("--chain-only: --target %s writes policies that add up with the cluster's others; leave it out", name)
	}
	return nil
}

// Write writes one NetworkPolicy per service as a multi-document YAML
// stream for kubectl apply -f.
func (Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	var res target.Result
	if err := CheckSite(in, "kubernetes"); err != nil {
		return res, err
	}
	sel, err := k8ssel.Shared.LabelSelector()
	if err != nil {
		return res, err
	}
	if err := k8ssel.Shared.CheckNamespace(); err != nil {
		return res, err
	}
	res.Notes = append(res.Notes, notes(in)...)
	var docs []string
	for _, c := range in.Choices {
		slug := c.Service.Slug()
		np, ns, err := Policy(in, slug, *sel, k8ssel.Shared.Namespace, &res.Stats)
		if err != nil {
			return res, err
		}
		res.Notes = append(res.Notes, ns...)
		data, err := yaml.Marshal(np)
		if err != nil {
			return res, fmt.Errorf("%s: %v", slug, err)
		}
		head := target.Wrap("# ", fmt.Sprintf("%s: %s (%s)", np.Metadata.Name, c.Service.Info.Name, c.Service.Info.Document), 100)
		docs = append(docs, strings.Join(head, "\n")+"\n"+string(data))
	}
	var b strings.Builder
	in.WriteHeader(&b, "portolan rules for Kubernetes: NetworkPolicy (networking.k8s.io/v1), one per service")
	b.WriteString("#\n")
	for _, l := range []string{
		"Apply: kubectl apply -f FILE (add -n NAMESPACE unless --namespace was given). Undo: kubectl delete -f FILE, or kubectl delete networkpolicy -l app.kubernetes.io/managed-by=portolan.",
		"The pods of --selector " + target.OneLine(k8ssel.Shared.Selector) + " take only what these policies (and any other policy that selects them) allow: policyTypes Ingress and Egress. Replies to allowed connections pass by themselves.",
		"Each policy allows DNS (UDP and TCP 53) to the kube-dns pods of kube-system, which a pod whose egress is limited needs to resolve names.",
		"Port ranges use endPort (Kubernetes 1.25 or later; a network plugin without endPort support opens only the first port). Whether ipBlock matches addresses inside the cluster depends on the network plugin.",
		"Rules carry no comments: annotation " + AnnFlows + " says which flow, and which line of the vendor's document, each rule stands for; " + AnnNames + " which names the addresses come from.",
	} {
		for _, w := range target.Wrap("# ", l, 100) {
			b.WriteString(w + "\n")
		}
	}
	in.WriteConstraints(&b, "a NetworkPolicy", func(c resolve.Constraint) string { return ConstraintAction(c, "a NetworkPolicy") })
	target.WriteNotes(&b, res.Notes)
	b.WriteString(strings.Join(docs, "---\n"))
	_, err = io.WriteString(w, b.String())
	return res, err
}

// ConstraintAction says what a constraint means for a pod policy: the
// ALG and NAT timeouts belong to the nodes and the network's NAT, not to
// the policy.
func ConstraintAction(c resolve.Constraint, platform string) string {
	switch c.Kind {
	case model.KindALGOff:
		return fmt.Sprintf("%s — %s has no helper setting; keep the %s ALG off on the nodes (no conntrack helper such as nf_conntrack_sip assigned) and on every router between the pods and the internet.", c.Purpose, platform, strings.Join(c.Apps, "/"))
	case model.KindNATTimeout:
		return fmt.Sprintf("%s — %s has no timeout setting; the nodes' conntrack (nf_conntrack_udp_timeout_stream) and the NAT in front of the cluster must keep the binding that long.%s", c.Purpose, platform, target.Keepalive(c))
	case model.KindAllowByName:
		return fmt.Sprintf("%s — %s holds addresses, resolved when it was written: regenerate and apply it when the names' addresses change, or use --target cilium, which allows the names (toFQDNs).", c.Purpose, platform)
	}
	return target.ConstraintAction(c, platform)
}

// notes are the input's notes, with what NetworkPolicy cannot say.
func notes(in *target.Input) []string {
	out := in.Notes()
	for i := range in.Flows {
		f := &in.Flows[i]
		if len(f.Wildcards) > 0 {
			out = append(out, fmt.Sprintf("left out: %s: wildcard domains %s: NetworkPolicy holds addresses only; --target cilium allows them (toFQDNs matchPattern), or allow them on a web proxy (--target squid)",
				target.FlowRef(f), strings.Join(f.Wildcards, ", ")))
		}
	}
	return out
}

// Policy builds the NetworkPolicy of one service; notes say what it
// leaves out or widens.
func Policy(in *target.Input, slug string, sel k8ssel.LabelSelector, namespace string, st *target.Stats) (*NetworkPolicy, []string, error) {
	name, err := k8ssel.PolicyName(slug)
	if err != nil {
		return nil, nil, err
	}
	var notes, flows, names, docs []string
	np := &NetworkPolicy{
		APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy",
		Metadata: k8ssel.ObjectMeta{
			Name: name, Namespace: namespace,
			Labels: map[string]string{LabelManagedBy: "portolan", LabelService: k8ssel.LabelValue(slug)},
		},
		Spec: Spec{
			PodSelector: sel,
			PolicyTypes: []string{"Ingress", "Egress"},
			Egress:      []EgressRule{DNSRule()},
		},
	}
	empty, emptyNames := map[string][]string{}, map[string]string{}
	var emptyOrder []string
	flows = append(flows, "egress[0]: cluster DNS (kube-system k8s-app=kube-dns, UDP and TCP 53), which a limited egress needs")
	st.Rules++
	for i := range in.Rules {
		r := &in.Rules[i]
		if r.Flow.Service != slug {
			continue
		}
		if c := in.Choice(slug); c != nil && !containsDoc(docs, c.Service.Info.Document) {
			docs = append(docs, c.Service.Info.Document)
		}
		ref := target.FlowRef(r.Flow)
		proto, err := Protocol(r.Match.Proto)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", ref, err)
		}
		out := r.Hook == policy.Output
		if r.Hook != policy.Output && r.Hook != policy.Input {
			return nil, nil, fmt.Errorf("%s: a %s rule in host mode (this is a bug)", ref, r.Hook)
		}
		addrs, any, ns := r.Match.SrcAddrs(), r.Match.AnySrc(), r.Match.SrcNames
		if out {
			addrs, any, ns = r.Match.DstAddrs(), r.Match.AnyDst(), r.Match.DstNames
		}
		peers, err := Peers(addrs, any, r.Match.Family)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", ref, err)
		}
		if len(peers) == 0 {
			if _, ok := empty[ref]; !ok {
				emptyOrder = append(emptyOrder, ref)
				emptyNames[ref] = nameList(ns)
			}
			empty[ref] = append(empty[ref], fmt.Sprintf("IPv%d", r.Match.Family))
			continue
		}
		if !r.Match.SrcPorts.Empty() {
			notes = append(notes, fmt.Sprintf("widened: %s: source ports %s: NetworkPolicy matches destination ports only, so any source port is allowed", ref, r.Match.SrcPorts))
		}
		ports := Ports(proto, r.Match.DstPorts)
		st.Rules++
		st.Elements += len(peers)
		st.PortSets++
		st.Ports += max(1, len(r.Match.DstPorts.Ranges()))
		var where string
		if out {
			where = fmt.Sprintf("egress[%d]", len(np.Spec.Egress))
			np.Spec.Egress = append(np.Spec.Egress, EgressRule{Ports: ports, To: peers})
		} else {
			where = fmt.Sprintf("ingress[%d]", len(np.Spec.Ingress))
			np.Spec.Ingress = append(np.Spec.Ingress, IngressRule{Ports: ports, From: peers})
		}
		flows = append(flows, fmt.Sprintf("%s: %s (IPv%d %s %s %s)", where, target.RuleComment(r), r.Match.Family, r.Flow.Direction, r.Flow.Proto, r.Flow.Necessity))
		for _, n := range ns {
			if len(n.Answer.Addrs) > 0 {
				names = append(names, fmt.Sprintf("%s: %s %s", where, n.Name, addrList(n.Answer.Addrs)))
			}
		}
	}
	for _, ref := range emptyOrder {
		notes = append(notes, fmt.Sprintf("left out: %s (%s): %s: no %s address, and NetworkPolicy holds addresses only; resolve the names (leave out --no-resolve, or pin them with --hosts) and regenerate, or use --target cilium (toFQDNs)",
			ref, strings.Join(empty[ref], ", "), emptyNames[ref], strings.Join(empty[ref], " or ")))
	}
	ann := map[string]string{AnnFlows: strings.Join(flows, "\n")}
	if len(names) > 0 {
		ann[AnnNames] = strings.Join(names, "\n")
	}
	if len(docs) > 0 {
		ann[AnnSource] = strings.Join(docs, ", ")
	}
	for k, v := range ann {
		ann[k] = target.Truncate(textsafeLines(v), 64*1024)
	}
	np.Metadata.Annotations = ann
	return np, notes, nil
}

func containsDoc(docs []string, d string) bool {
	for _, x := range docs {
		if x == d {
			return true
		}
	}
	return false
}

// textsafeLines makes every line of s safe as a comment line.
func textsafeLines(s string) string {
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = target.OneLine(l)
	}
	return strings.Join(ls, "\n")
}

func nameList(ns []resolve.NameAddrs) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	if len(out) == 0 {
		return "its names"
	}
	return strings.Join(out, ", ")
}

func addrList(as []netip.Addr) string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return strings.Join(out, ", ")
}

// DNSRule is the egress rule to the cluster DNS.
func DNSRule() EgressRule {
	return EgressRule{
		Ports: []Port{{Protocol: "UDP", Port: ptr(53)}, {Protocol: "TCP", Port: ptr(53)}},
		To: []Peer{{
			NamespaceSelector: &k8ssel.LabelSelector{MatchLabels: map[string]string{NSNameLabel: DNSNamespace}},
			PodSelector:       &k8ssel.LabelSelector{MatchLabels: map[string]string{DNSLabelKey: DNSLabelVal}},
		}},
	}
}

func ptr(v int32) *int32 { return &v }

// Protocol maps the model's protocol to the API's.
func Protocol(p string) (string, error) {
	switch p {
	case model.TCP:
		return "TCP", nil
	case model.UDP:
		return "UDP", nil
	}
	return "", fmt.Errorf("protocol %q: NetworkPolicy matches TCP, UDP and SCTP", p)
}

// Ports writes a port set as Ports: a port, or a range as port and
// endPort; an empty set is every port of the protocol.
func Ports(proto string, ps model.PortSet) []Port {
	if ps.Empty() {
		return []Port{{Protocol: proto}}
	}
	var out []Port
	for _, r := range ps.Ranges() {
		p := Port{Protocol: proto, Port: ptr(int32(r.Lo))}
		if r.Hi > r.Lo {
			p.EndPort = ptr(int32(r.Hi))
		}
		out = append(out, p)
	}
	return out
}

// Peers writes addresses of one family as ipBlock peers, or the whole
// family (0.0.0.0/0, ::/0) for any; none when there are no addresses.
func Peers(addrs []netip.Prefix, any bool, family int) ([]Peer, error) {
	if any {
		all := "0.0.0.0/0"
		if family == 6 {
			all = "::/0"
		}
		return []Peer{{IPBlock: &IPBlock{CIDR: all}}}, nil
	}
	var cidrs []string
	for _, p := range addrs {
		p = model.UnmapPrefix(p).Masked()
		if fam := map[bool]int{true: 4, false: 6}[p.Addr().Is4()]; fam != family {
			return nil, fmt.Errorf("address %s in an IPv%d rule (this is a bug)", p, family)
		}
		cidrs = append(cidrs, p.String())
	}
	sort.Strings(cidrs)
	var out []Peer
	for _, c := range cidrs {
		out = append(out, Peer{IPBlock: &IPBlock{CIDR: c}})
	}
	return out, nil
}
