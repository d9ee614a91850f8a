package cilium_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/cilium"
	"github.com/portolan/portolan/target/k8ssel/k8stest"
	"github.com/portolan/portolan/target/targettest"
)

// decode decodes every document strictly into the types written from the
// CRD's schema: an unknown field is an error.
func decode(t *testing.T, out string) []cilium.Policy {
	t.Helper()
	var ps []cilium.Policy
	for i, d := range k8stest.Docs(out) {
		var p cilium.Policy
		if err := yaml.UnmarshalStrict([]byte(d), &p); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, d)
		}
		ps = append(ps, p)
	}
	return ps
}

// The CRD's constraints on the fields the target writes
// (pkg/policy/api, as the CRD's openAPIV3Schema publishes them).
var (
	portRe     = regexp.MustCompile(`^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})$`)
	protocols  = []string{"TCP", "UDP", "SCTP", "ANY"}
	flowDescRe = regexp.MustCompile(`^portolan [a-z0-9-]+/[a-z0-9-]+ [0-9]{3}_[0-9a-f]{16}\.txt:[0-9]+ \((outbound|inbound) (tcp|udp), (required|recommended|optional)\): `)
)

// TestStrictDecode has every seed service's policy decode strictly and
// checks each value against the CRD's schema: names, ports and ranges,
// protocols, FQDN selectors, CIDRs; the DNS proxy rule first; each flow's
// rule described by service, flow and document line.
func TestStrictDecode(t *testing.T) {
	k8stest.SetFlags(t, "app=pbx,tier in (sip,media)", "voip")
	for _, slug := range k8stest.Seeds {
		t.Run(slug, func(t *testing.T) {
			out, _ := k8stest.Write(t, cilium.Target{}, k8stest.SeedInput(t, slug))
			ps := decode(t, out)
			if len(ps) != 1 {
				t.Fatalf("%d documents, want 1", len(ps))
			}
			p := ps[0]
			if p.APIVersion != "cilium.io/v2" || p.Kind != "CiliumNetworkPolicy" || p.Metadata.Name != "portolan-"+slug || p.Metadata.Namespace != "voip" || p.Spec != nil {
				t.Errorf("header %s %s %s/%s", p.APIVersion, p.Kind, p.Metadata.Namespace, p.Metadata.Name)
			}
			if errs := validation.IsDNS1123Subdomain(p.Metadata.Name); len(errs) > 0 {
				t.Errorf("name: %v", errs)
			}
			for k, v := range p.Metadata.Labels {
				if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
					t.Errorf("label %s=%s: %v", k, v, errs)
				}
			}
			if len(p.Specs) < 2 {
				t.Fatalf("%d rules", len(p.Specs))
			}
			dns := p.Specs[0]
			if len(dns.Egress) != 1 || len(dns.Egress[0].ToEndpoints) != 1 || dns.Egress[0].ToPorts[0].Rules == nil ||
				dns.Egress[0].ToPorts[0].Rules.DNS[0].MatchPattern != "*" ||
				dns.Egress[0].ToEndpoints[0].MatchLabels["k8s:io.kubernetes.pod.namespace"] != "kube-system" {
				t.Errorf("first rule is not the DNS proxy rule: %+v", dns)
			}
			for i, r := range p.Specs {
				where := fmt.Sprintf("specs[%d]", i)
				if r.EndpointSelector.MatchLabels["app"] != "pbx" || len(r.EndpointSelector.MatchExpressions) != 1 {
					t.Errorf("%s: endpointSelector %+v", where, r.EndpointSelector)
				}
				if r.EnableDefaultDeny == nil || r.EnableDefaultDeny.Ingress == nil || !*r.EnableDefaultDeny.Ingress || r.EnableDefaultDeny.Egress == nil || !*r.EnableDefaultDeny.Egress {
					t.Errorf("%s: enableDefaultDeny %+v", where, r.EnableDefaultDeny)
				}
				if i > 0 && !flowDescRe.MatchString(r.Description) {
					t.Errorf("%s: description %q does not name service, flow and document line", where, r.Description)
				}
				if len(r.Egress)+len(r.Ingress) == 0 {
					t.Errorf("%s: no rule", where)
				}
				var ports []cilium.PortRule
				for j, e := range r.Egress {
					n := 0
					for _, x := range [][]string{cidrs(e.ToCIDRSet), {fmt.Sprint(len(e.ToEndpoints))}, {fmt.Sprint(len(e.ToFQDNs))}} {
						if len(x) > 0 && x[0] != "0" {
							n++
						}
					}
					if n != 1 {
						t.Errorf("%s.egress[%d]: %d kinds of destination (toFQDNs takes no other)", where, j, n)
					}
					for _, f := range e.ToFQDNs {
						if !cilium.ValidFQDN(f) {
							t.Errorf("%s.egress[%d]: toFQDNs %+v against the CRD's pattern", where, j, f)
						}
					}
					ports = append(ports, e.ToPorts...)
					checkCIDRs(t, where, e.ToCIDRSet)
				}
				for _, in := range r.Ingress {
					if len(in.FromCIDRSet) == 0 {
						t.Errorf("%s: ingress from nowhere (would be from every endpoint)", where)
					}
					ports = append(ports, in.ToPorts...)
					checkCIDRs(t, where, in.FromCIDRSet)
				}
				for _, pr := range ports {
					if len(pr.Ports) > cilium.MaxPorts {
						t.Errorf("%s: %d ports in one port rule, Cilium takes %d", where, len(pr.Ports), cilium.MaxPorts)
					}
					for _, pp := range pr.Ports {
						if !portRe.MatchString(pp.Port) || !slices.Contains(protocols, pp.Protocol) {
							t.Errorf("%s: port %+v against the CRD's schema", where, pp)
						}
						var lo int32
						fmt.Sscan(pp.Port, &lo)
						if pp.EndPort != 0 && (pp.EndPort <= lo || pp.EndPort > 65535) {
							t.Errorf("%s: endPort %d after port %s", where, pp.EndPort, pp.Port)
						}
					}
				}
			}
		})
	}
}

func cidrs(rs []cilium.CIDRRule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Cidr)
	}
	return out
}

func checkCIDRs(t *testing.T, where string, rs []cilium.CIDRRule) {
	t.Helper()
	for _, r := range rs {
		p, err := netip.ParsePrefix(r.Cidr)
		if err != nil || p.Masked() != p {
			t.Errorf("%s: cidr %q: %v", where, r.Cidr, err)
		}
	}
}

// TestStrictDecodeRejects proves the decoding is strict: a field the CRD
// does not have, or one misspelt, fails.
func TestStrictDecodeRejects(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspecs: [{endpointSelector: {}, egres: []}]\n",
		"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspecs: [{endpointSelector: {}, egress: [{toFQDN: [{matchName: a}]}]}]\n",
		"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspecs: [{endpointSelector: {}, egress: [{toPorts: [{ports: [{port: '1', end: 2}]}]}]}]\n",
		"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspec: {endpointSelector: {}, egress: [{toCIDRSet: [{cidr: 192.0.2.0/24, exceptCIDRs: []}]}]}\n",
	} {
		var p cilium.Policy
		if err := yaml.UnmarshalStrict([]byte(doc), &p); err == nil {
			t.Errorf("accepted:\n%s", doc)
		}
	}
}

const (
	docsLang  = "https://docs.cilium.io/en/stable/security/policy/language/"
	docsCRD   = "https://docs.cilium.io/en/stable/network/kubernetes/policy/#ciliumnetworkpolicy"
	docsIntro = "https://docs.cilium.io/en/stable/security/policy/intro/"
	docsMeta  = "https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/#ObjectMeta"
)

// fields is every field the generator writes, with the page of Cilium's
// documentation that describes it. The test fails for a field written but
// not listed, and for one listed but never written.
var fields = map[string]string{
	"apiVersion":                           docsCRD,
	"kind":                                 docsCRD,
	"metadata.name":                        docsMeta,
	"metadata.namespace":                   docsMeta,
	"metadata.labels":                      docsMeta,
	"metadata.annotations":                 docsMeta,
	"specs[].description":                  docsCRD,
	"specs[].endpointSelector.matchLabels": docsLang + "#endpoints-based",
	"specs[].endpointSelector.matchExpressions[].key":      docsLang + "#endpoints-based",
	"specs[].endpointSelector.matchExpressions[].operator": docsLang + "#endpoints-based",
	"specs[].endpointSelector.matchExpressions[].values[]": docsLang + "#endpoints-based",
	"specs[].enableDefaultDeny.ingress":                    docsIntro + "#endpoint-default-policy",
	"specs[].enableDefaultDeny.egress":                     docsIntro + "#endpoint-default-policy",
	"specs[].egress[].toEndpoints[].matchLabels":           docsLang + "#endpoints-based",
	"specs[].egress[].toFQDNs[].matchName":                 docsLang + "#dns-based",
	"specs[].egress[].toFQDNs[].matchPattern":              docsLang + "#dns-based",
	"specs[].egress[].toCIDRSet[].cidr":                    docsLang + "#ip-cidr-based",
	"specs[].egress[].toPorts[].ports[].port":              docsLang + "#layer-4-examples",
	"specs[].egress[].toPorts[].ports[].endPort":           docsLang + "#layer-4-examples",
	"specs[].egress[].toPorts[].ports[].protocol":          docsLang + "#layer-4-examples",
	"specs[].egress[].toPorts[].rules.dns[].matchPattern":  docsLang + "#dns-based",
	"specs[].ingress[].fromCIDRSet[].cidr":                 docsLang + "#ip-cidr-based",
	"specs[].ingress[].toPorts[].ports[].port":             docsLang + "#layer-4-examples",
	"specs[].ingress[].toPorts[].ports[].endPort":          docsLang + "#layer-4-examples",
	"specs[].ingress[].toPorts[].ports[].protocol":         docsLang + "#layer-4-examples",
}

func allPorts(rs []cilium.PortRule) []cilium.PortProtocol {
	var out []cilium.PortProtocol
	for _, r := range rs {
		out = append(out, r.Ports...)
	}
	return out
}

// portsText writes ports as "443,5228-5230".
func portsText(pp []cilium.PortProtocol) (proto, ports string) {
	var ps []string
	for _, p := range pp {
		proto = strings.ToLower(p.Protocol)
		if p.EndPort != 0 {
			ps = append(ps, fmt.Sprintf("%s-%d", p.Port, p.EndPort))
		} else {
			ps = append(ps, p.Port)
		}
	}
	return proto, strings.Join(ps, ",")
}

// opened writes what a policy opens as plain lines, one per flow and
// direction: "egress tcp 443 name:config.example.com *.example.com
// 203.0.113.0/24". A wildcard's three selectors (matchName D,
// matchPattern *.D and **.D) read back as *.D.
func opened(ps []cilium.Policy) []string {
	var out []string
	for _, p := range ps {
		for _, r := range p.Specs[1:] {
			var dests []string
			var proto, ports string
			for _, e := range r.Egress {
				proto, ports = portsText(allPorts(e.ToPorts))
				var names, pats []string
				for _, f := range e.ToFQDNs {
					if f.MatchName != "" {
						names = append(names, f.MatchName)
					} else {
						pats = append(pats, f.MatchPattern)
					}
				}
				for _, pat := range pats {
					switch {
					case strings.HasPrefix(pat, "**."):
					case strings.HasPrefix(pat, "*.") && slices.Contains(pats, "*"+pat) && slices.Contains(names, pat[2:]):
						dests = append(dests, pat)
						names = slices.DeleteFunc(names, func(n string) bool { return n == pat[2:] })
					default:
						dests = append(dests, pat)
					}
				}
				for _, n := range names {
					dests = append(dests, "name:"+n)
				}
				dests = append(dests, cidrs(e.ToCIDRSet)...)
			}
			dir := "egress"
			for _, in := range r.Ingress {
				dir = "ingress"
				proto, ports = portsText(allPorts(in.ToPorts))
				dests = append(dests, cidrs(in.FromCIDRSet)...)
			}
			sort.Strings(dests)
			out = append(out, fmt.Sprintf("%s %s %s %s", dir, proto, ports, strings.Join(dests, " ")))
		}
	}
	sort.Strings(out)
	return out
}

// planned writes the plan as the same lines: per flow, the names and
// prefixes of its rules (both families), and the wildcard domains of
// outbound flows, which the plan leaves to a DNS-aware firewall.
func planned(in *target.Input) []string {
	type acc struct {
		dir, proto, ports string
		dests             []string
	}
	var order []*resolve.Concrete
	m := map[*resolve.Concrete]*acc{}
	get := func(f *resolve.Concrete, dir, ports string) *acc {
		if m[f] == nil {
			m[f] = &acc{dir: dir, proto: f.Proto, ports: ports}
			order = append(order, f)
			if f.Direction == model.Outbound {
				for _, d := range f.Dest {
					if e, _ := model.ParseEntry(d); e.Kind == model.EntryWildcard || e.Kind == model.EntryGlob {
						m[f].dests = append(m[f].dests, d)
					}
				}
			}
		}
		return m[f]
	}
	for _, r := range in.Rules {
		a := get(r.Flow, map[policy.Hook]string{policy.Output: "egress", policy.Input: "ingress"}[r.Hook], strings.ReplaceAll(r.Match.DstPorts.String(), ",", ","))
		any, ps := r.Match.AnyDst(), r.Match.Dst
		if r.Hook == policy.Input {
			any, ps = r.Match.AnySrc(), r.Match.SrcAddrs()
		}
		if any {
			ps = []netip.Prefix{netip.MustParsePrefix(map[int]string{4: "0.0.0.0/0", 6: "::/0"}[r.Match.Family])}
		}
		for _, p := range ps {
			a.dests = append(a.dests, p.String())
		}
		if r.Hook == policy.Output {
			for _, n := range r.Match.DstNames {
				a.dests = append(a.dests, "name:"+n.Name)
			}
		}
	}
	for _, s := range in.Skips {
		if s.Flow.Direction == model.Outbound && len(s.Flow.Wildcards) > 0 {
			ports := s.Flow.Ports
			if !in.Options.AllAlternatives {
				ports = s.Flow.Preferred()
			}
			get(s.Flow, "egress", ports.String())
		}
	}
	var out []string
	for _, f := range order {
		a := m[f]
		sort.Strings(a.dests)
		out = append(out, fmt.Sprintf("%s %s %s %s", a.dir, a.proto, a.ports, strings.Join(slices.Compact(a.dests), " ")))
	}
	sort.Strings(out)
	return out
}

// TestOpensThePlan states, for each seed service, which ports, names and
// prefixes its CiliumNetworkPolicy opens, and that they are the plan's.
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
			out, _ := k8stest.Write(t, cilium.Target{}, in)
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

// TestPatterns checks host-name patterns of the test profile: a pattern
// Cilium's matchPattern can say (router*.vendor.example) is written as
// it is, not widened, and the plan's note that packet filters skip it is
// not repeated, since this target writes it.
func TestPatterns(t *testing.T) {
	k8stest.SetFlags(t, "app=room", "")
	in := targettest.PrepareFrom(t, "../../catalog/testdata/model", []string{"8x8"},
		resolve.Selection{AllFeatures: true, Params: []string{"sbc_address=192.0.2.10", "calls=50"}},
		"198.51.100.80 media.vendor.example\n", policy.Site{Mode: policy.Host, LAN: k8stest.LAN}, target.Options{})
	out, res := k8stest.Write(t, cilium.Target{}, in)
	ps := decode(t, out)
	var pats []string
	for _, r := range ps[0].Specs {
		for _, e := range r.Egress {
			for _, f := range e.ToFQDNs {
				if f.MatchPattern != "" {
					pats = append(pats, f.MatchPattern)
				}
			}
		}
	}
	for _, want := range []string{"router*.vendor.example", "edge-*.eu.vendor.example"} {
		if !slices.Contains(pats, want) {
			t.Errorf("no matchPattern %s in %v", want, pats)
		}
	}
	for _, n := range res.Notes {
		if strings.Contains(n, "router-https") {
			t.Errorf("note about a flow the policy holds: %s", n)
		}
	}
}

// TestRefusals checks that gateway mode and a missing selector are usage
// errors that write nothing, as for --target kubernetes.
func TestRefusals(t *testing.T) {
	gw := targettest.Prepare(t, []string{"starleaf"}, resolve.Selection{Params: []string{"company=acme"}}, "203.0.113.9 acme.call.sl\n203.0.113.8 config.starleaf.com\n", targettest.Site, target.Options{})
	for _, tt := range []struct {
		selector string
		in       *target.Input
		want     string
	}{
		{"app=pbx", gw, "give --mode host"},
		{"", k8stest.SeedInput(t, "starleaf"), "--selector is required"},
	} {
		k8stest.SetFlags(t, tt.selector, "")
		var b bytes.Buffer
		if _, err := (cilium.Target{}).Write(&b, tt.in); err == nil || !strings.Contains(err.Error(), tt.want) || b.Len() > 0 {
			t.Errorf("error %v (wrote %d bytes), want %q", err, b.Len(), tt.want)
		}
	}
}

// TestNoResolve checks that outbound flows keep their names without
// resolving (toFQDNs), while an inbound flow from a name without an
// address is left out with a note saying what to do.
func TestNoResolve(t *testing.T) {
	k8stest.SetFlags(t, "app=pbx", "")
	in := targettest.Prepare(t, []string{"starface"}, resolve.Selection{AllFeatures: true, Params: targettest.ExampleParams(mustService(t, "starface"))}, "",
		policy.Site{Mode: policy.Host, LAN: k8stest.LAN}, target.Options{})
	out, res := k8stest.Write(t, cilium.Target{}, in)
	ps := decode(t, out)
	names := 0
	for _, r := range ps[0].Specs {
		for _, e := range r.Egress {
			names += len(e.ToFQDNs)
		}
	}
	if names == 0 {
		t.Error("no toFQDNs without resolving")
	}
	for _, n := range res.Notes {
		if strings.HasPrefix(n, "left out:") && !strings.Contains(n, "regenerate") {
			t.Errorf("note without a remedy: %s", n)
		}
	}
	t.Logf("%d names, notes:\n%s", names, strings.Join(res.Notes, "\n"))
}

func mustService(t *testing.T, slug string) *model.Service {
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select([]string{slug})
	if err != nil {
		t.Fatal(err)
	}
	return svcs[0]
}

// TestHostileText puts line breaks, a document separator, a bidi
// override and an escape into the texts that reach the output (purposes,
// constraints, warnings): the output stays one strictly decoding
// document per service, with no control or format character.
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
	out, res := k8stest.Write(t, cilium.Target{}, in)
	if ps := decode(t, out); len(ps) != 1 {
		t.Errorf("%d documents", len(ps))
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
	k8stest.CheckFieldsDocumented(t, cilium.Target{}, fields, "https://docs.cilium.io/", "https://kubernetes.io/docs/")
}
