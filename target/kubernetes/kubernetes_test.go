package kubernetes_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/k8ssel/k8stest"
	"github.com/portolan/portolan/target/kubernetes"
	"github.com/portolan/portolan/target/targettest"
)

// decode decodes every document strictly: a field NetworkPolicy does not
// have is an error.
func decode(t *testing.T, out string) []networkingv1.NetworkPolicy {
	t.Helper()
	var nps []networkingv1.NetworkPolicy
	for i, d := range k8stest.Docs(out) {
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(d), &np); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, d)
		}
		nps = append(nps, np)
	}
	return nps
}

// TestStrictDecode has every seed service's policy decode strictly into
// k8s.io/api's NetworkPolicy, and checks what the API server validates:
// names, labels, annotations, ports, ranges, CIDRs, policy types.
func TestStrictDecode(t *testing.T) {
	k8stest.SetFlags(t, "app=pbx,tier in (sip,media)", "voip")
	for _, slug := range k8stest.Seeds {
		t.Run(slug, func(t *testing.T) {
			out, _ := k8stest.Write(t, kubernetes.Target{}, k8stest.SeedInput(t, slug))
			nps := decode(t, out)
			if len(nps) != 1 {
				t.Fatalf("%d documents, want 1", len(nps))
			}
			np := nps[0]
			if np.APIVersion != "networking.k8s.io/v1" || np.Kind != "NetworkPolicy" || np.Name != "portolan-"+slug || np.Namespace != "voip" {
				t.Errorf("header %s %s %s/%s", np.APIVersion, np.Kind, np.Namespace, np.Name)
			}
			if errs := validation.IsDNS1123Subdomain(np.Name); len(errs) > 0 {
				t.Errorf("name: %v", errs)
			}
			for k, v := range np.Labels {
				if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
					t.Errorf("label %s=%s: %v", k, v, errs)
				}
			}
			size := 0
			for k, v := range np.Annotations {
				size += len(k) + len(v)
				if errs := validation.IsQualifiedName(k); len(errs) > 0 {
					t.Errorf("annotation %s: %v", k, errs)
				}
			}
			if size > 256*1024 {
				t.Errorf("annotations %d bytes, more than the API's 256 KiB", size)
			}
			if !strings.Contains(np.Annotations[kubernetes.AnnFlows], slug+"/") {
				t.Errorf("annotation %s names no flow: %q", kubernetes.AnnFlows, np.Annotations[kubernetes.AnnFlows])
			}
			if got := fmt.Sprint(np.Spec.PolicyTypes); got != "[Ingress Egress]" {
				t.Errorf("policyTypes %s", got)
			}
			if got := np.Spec.PodSelector.MatchLabels["app"]; got != "pbx" || len(np.Spec.PodSelector.MatchExpressions) != 1 {
				t.Errorf("podSelector %+v", np.Spec.PodSelector)
			}
			check := func(where string, ports []networkingv1.NetworkPolicyPort, peers []networkingv1.NetworkPolicyPeer) {
				for _, p := range ports {
					if p.Protocol == nil || (*p.Protocol != "TCP" && *p.Protocol != "UDP") {
						t.Errorf("%s: protocol %v", where, p.Protocol)
					}
					if p.Port != nil && (p.Port.IntVal < 1 || p.Port.IntVal > 65535 || p.Port.Type != 0) {
						t.Errorf("%s: port %v", where, p.Port)
					}
					if p.EndPort != nil && (p.Port == nil || *p.EndPort <= p.Port.IntVal || *p.EndPort > 65535) {
						t.Errorf("%s: endPort %d after port %v", where, *p.EndPort, p.Port)
					}
				}
				if len(peers) == 0 {
					t.Errorf("%s: no peers (would allow every address)", where)
				}
				for _, p := range peers {
					if p.IPBlock == nil {
						continue
					}
					pr, err := netip.ParsePrefix(p.IPBlock.CIDR)
					if err != nil || pr.Masked() != pr {
						t.Errorf("%s: cidr %q: %v", where, p.IPBlock.CIDR, err)
					}
				}
			}
			dns := np.Spec.Egress[0]
			if len(dns.To) != 1 || dns.To[0].IPBlock != nil || dns.To[0].NamespaceSelector == nil || dns.To[0].PodSelector == nil ||
				dns.To[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "kube-system" ||
				dns.To[0].PodSelector.MatchLabels["k8s-app"] != "kube-dns" || len(dns.Ports) != 2 ||
				dns.Ports[0].Port.IntVal != 53 || *dns.Ports[0].Protocol != "UDP" || dns.Ports[1].Port.IntVal != 53 || *dns.Ports[1].Protocol != "TCP" {
				t.Errorf("egress[0] is not the DNS rule to kube-dns: %+v", dns)
			}
			for i, r := range np.Spec.Egress {
				check(fmt.Sprintf("egress[%d]", i), r.Ports, r.To)
				if i > 0 && (len(r.To) == 0 || r.To[0].IPBlock == nil) {
					t.Errorf("egress[%d]: a peer that is not an ipBlock", i)
				}
			}
			for i, r := range np.Spec.Ingress {
				check(fmt.Sprintf("ingress[%d]", i), r.Ports, r.From)
			}
		})
	}
}

// TestStrictDecodeRejects proves the decoding the tests use is strict: a
// field NetworkPolicy does not have, or one misspelt, fails.
func TestStrictDecodeRejects(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {podSelector: {}, egres: []}\n",
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {podSelector: {}, egress: [{ports: [{port: 1, end: 2}]}]}\n",
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, comment: y}\nspec: {podSelector: {}}\n",
	} {
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &np); err == nil {
			t.Errorf("accepted:\n%s", doc)
		}
	}
}

// docsK8s is the API reference of NetworkPolicy.
const docsK8s = "https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/"

// fields is every field the generator writes, with where the vendor
// documents it: the test fails for a field written but not listed here,
// and for one listed but never written.
var fields = map[string]string{
	"apiVersion":                   docsK8s,
	"kind":                         docsK8s,
	"metadata.name":                "https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/#ObjectMeta",
	"metadata.namespace":           "https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/#ObjectMeta",
	"metadata.labels":              "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set",
	"metadata.annotations":         "https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/#syntax-and-character-set",
	"spec.podSelector.matchLabels": docsK8s + "#NetworkPolicySpec",
	"spec.podSelector.matchExpressions[].key":          "https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/label-selector/#LabelSelector",
	"spec.podSelector.matchExpressions[].operator":     "https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/label-selector/#LabelSelector",
	"spec.podSelector.matchExpressions[].values[]":     "https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/label-selector/#LabelSelector",
	"spec.policyTypes[]":                               docsK8s + "#NetworkPolicySpec",
	"spec.egress[].to[].ipBlock.cidr":                  docsK8s + "#NetworkPolicySpec",
	"spec.egress[].to[].namespaceSelector.matchLabels": docsK8s + "#NetworkPolicySpec",
	"spec.egress[].to[].podSelector.matchLabels":       docsK8s + "#NetworkPolicySpec",
	"spec.egress[].ports[].port":                       docsK8s + "#NetworkPolicySpec",
	"spec.egress[].ports[].endPort":                    docsK8s + "#NetworkPolicySpec",
	"spec.egress[].ports[].protocol":                   docsK8s + "#NetworkPolicySpec",
	"spec.ingress[].from[].ipBlock.cidr":               docsK8s + "#NetworkPolicySpec",
	"spec.ingress[].ports[].port":                      docsK8s + "#NetworkPolicySpec",
	"spec.ingress[].ports[].endPort":                   docsK8s + "#NetworkPolicySpec",
	"spec.ingress[].ports[].protocol":                  docsK8s + "#NetworkPolicySpec",
}

// opened writes what a policy opens as plain lines: "egress udp
// 3478,24704 203.0.113.200/32".
func opened(nps []networkingv1.NetworkPolicy) []string {
	var out []string
	line := func(dir string, ports []networkingv1.NetworkPolicyPort, peers []networkingv1.NetworkPolicyPeer) {
		var ps []string
		proto := ""
		for _, p := range ports {
			proto = strings.ToLower(string(*p.Protocol))
			switch {
			case p.Port == nil:
				ps = append(ps, "any")
			case p.EndPort != nil:
				ps = append(ps, fmt.Sprintf("%d-%d", p.Port.IntVal, *p.EndPort))
			default:
				ps = append(ps, fmt.Sprint(p.Port.IntVal))
			}
		}
		var cidrs []string
		for _, p := range peers {
			if p.IPBlock == nil {
				cidrs = append(cidrs, "kube-dns")
				continue
			}
			cidrs = append(cidrs, p.IPBlock.CIDR)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", dir, proto, strings.Join(ps, ","), strings.Join(cidrs, ",")))
	}
	for _, np := range nps {
		for _, r := range np.Spec.Egress {
			if len(r.To) == 1 && r.To[0].IPBlock == nil {
				continue // the DNS rule, which the plan does not hold
			}
			line("egress", r.Ports, r.To)
		}
		for _, r := range np.Spec.Ingress {
			line("ingress", r.Ports, r.From)
		}
	}
	sort.Strings(out)
	return out
}

// planned writes the plan's rules as the same plain lines.
func planned(in *target.Input) []string {
	var out []string
	for _, r := range in.Rules {
		dir, addrs, any := "egress", r.Match.DstAddrs(), r.Match.AnyDst()
		if r.Hook == policy.Input {
			dir, addrs, any = "ingress", r.Match.SrcAddrs(), r.Match.AnySrc()
		}
		var cidrs []string
		for _, a := range addrs {
			cidrs = append(cidrs, a.String())
		}
		if any {
			cidrs = []string{map[int]string{4: "0.0.0.0/0", 6: "::/0"}[r.Match.Family]}
		}
		sort.Strings(cidrs)
		ports := r.Match.DstPorts.String()
		if r.Match.DstPorts.Empty() {
			ports = "any"
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", dir, r.Match.Proto, ports, strings.Join(cidrs, ",")))
	}
	sort.Strings(out)
	return out
}

// TestOpensThePlan states, for each seed service, which ports and
// prefixes its NetworkPolicy opens, and that they are the plan's.
func TestOpensThePlan(t *testing.T) {
	k8stest.SetFlags(t, "app=pbx", "")
	want := map[string][]string{
		"starleaf":     wantStarleaf,
		"pexip":        wantPexip,
		"starface":     wantStarface,
		"tw-solutions": wantTW,
		"onsight":      wantOnsight,
	}
	for _, slug := range k8stest.Seeds {
		t.Run(slug, func(t *testing.T) {
			in := k8stest.SeedInput(t, slug)
			out, _ := k8stest.Write(t, kubernetes.Target{}, in)
			got := opened(decode(t, out))
			if plan := planned(in); !slices.Equal(got, plan) {
				t.Errorf("the policy opens\n  %s\nthe plan\n  %s", strings.Join(got, "\n  "), strings.Join(plan, "\n  "))
			}
			if !slices.Equal(got, want[slug]) {
				t.Errorf("the policy opens\n\t%q,\nwant\n\t%q", got, want[slug])
			}
		})
	}
}

// TestRefusals checks the usage errors: gateway mode, --chain-only, a
// missing or bad --selector, a bad --namespace.
func TestRefusals(t *testing.T) {
	host := k8stest.SeedInput(t, "starleaf")
	gw := targettest.Prepare(t, []string{"starleaf"}, resolve.Selection{Params: []string{"company=acme"}}, "203.0.113.9 acme.call.sl\n203.0.113.8 config.starleaf.com\n", targettest.Site, target.Options{})
	chain := k8stest.SeedInput(t, "starleaf")
	chain.Options.ChainOnly = true
	tests := []struct {
		name, selector, namespace string
		in                        *target.Input
		want                      string
	}{
		{"gateway", "app=pbx", "", gw, "give --mode host"},
		{"chain-only", "app=pbx", "", chain, "--chain-only"},
		{"no selector", "", "", host, "--selector is required"},
		{"bad selector", "app=pbx,", "", host, `--selector "app=pbx,"`},
		{"bad label value", "app=" + strings.Repeat("x", 64), "", host, "--selector"},
		{"bad namespace", "app=pbx", "VoIP", host, `--namespace "VoIP"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k8stest.SetFlags(t, tt.selector, tt.namespace)
			var b bytes.Buffer
			_, err := (kubernetes.Target{}).Write(&b, tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			if b.Len() > 0 {
				t.Errorf("wrote %d bytes before failing", b.Len())
			}
		})
	}
}

// TestNotes checks that what NetworkPolicy cannot say is a note on
// stderr and in the header: names without an address (--no-resolve) and
// wildcard domains, each with what to do instead.
func TestNotes(t *testing.T) {
	k8stest.SetFlags(t, "app=onsight", "")
	in := targettest.Prepare(t, []string{"onsight"}, resolve.Selection{AllFeatures: true, Params: []string{"custom_domains=onsight.example.com"}}, "",
		policy.Site{Mode: policy.Host, LAN: k8stest.LAN}, target.Options{})
	out, res := k8stest.Write(t, kubernetes.Target{}, in)
	for _, want := range []string{
		"left out: onsight/proxy-https-custom (IPv4, IPv6): onsight.example.com: no IPv4 or IPv6 address, and NetworkPolicy holds addresses only",
		"left out: onsight/proxy-https: wildcard domains *.librestream.com: NetworkPolicy holds addresses only; --target cilium allows them",
	} {
		found := false
		for _, n := range res.Notes {
			found = found || strings.HasPrefix(n, want)
		}
		if !found {
			t.Errorf("no note %q in\n%s", want, strings.Join(res.Notes, "\n"))
		}
		if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(out, "#", "")), " "), want) {
			t.Errorf("header does not say %q", want)
		}
	}
	decode(t, out)
}

// TestHostileText puts line breaks, a document separator, a bidi
// override and an escape into the texts that reach the output: it stays
// one strictly decoding document, with no control or format character.
func TestHostileText(t *testing.T) {
	k8stest.SetFlags(t, "app=pbx", "")
	const evil = "x\n---\nkind: Evil\n\u202e\x1b[31m'\"#"
	in := k8stest.SeedInput(t, "tw-solutions")
	for i := range in.Flows {
		in.Flows[i].Purpose = evil
	}
	for i := range in.Constraints {
		in.Constraints[i].Purpose = evil
	}
	in.Warnings = append(in.Warnings, resolve.Warning{Service: "tw-solutions", Flow: "x", Msg: evil})
	out, res := k8stest.Write(t, kubernetes.Target{}, in)
	if nps := decode(t, out); len(nps) != 1 {
		t.Errorf("%d documents", len(nps))
	}
	if strings.Contains(out, "\nkind: Evil") || strings.ContainsAny(out, "\u202e\x1b") {
		t.Errorf("hostile text reached the output as it is")
	}
	for _, n := range res.Notes {
		if strings.ContainsAny(n, "\n\r\x1b\u202e") {
			t.Errorf("note %q", n)
		}
	}
}

// TestFieldsDocumented checks every field the generator writes, for every
// seed service, against the table of the vendor's documentation.
func TestFieldsDocumented(t *testing.T) {
	k8stest.CheckFieldsDocumented(t, kubernetes.Target{}, fields, "https://kubernetes.io/docs/")
}
