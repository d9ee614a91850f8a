package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/reflector"
	"github.com/portolan/portolan/resolve"
)

// tlsApps are the applications that speak TLS from the first byte.
var tlsApps = map[string]bool{"https": true, "sip-tls": true, "apns": true, "fcm": true}

// Plan is what a probe run will do: for each flow, where it is probed
// (directly, through the proxy, through the reflector) or why not.
type Plan struct {
	cfg       Config
	services  []string
	flows     []*flowPlan
	cons      []resolve.Constraint
	names     []nameUse
	warnings  []resolve.Warning
	reflector netip.AddrPort // invalid when none
}

// flowPlan is one flow and how to probe it.
type flowPlan struct {
	c *resolve.Concrete
	// skip says why the flow is not probed at all.
	skip string
	// direct are the hosts probed directly: names with their addresses,
	// single addresses, and --endpoint addresses inside the flow's blocks.
	direct []endpoint
	// proxy: the flow goes through the web proxy, to the endpoints in
	// proxied (names are resolved by the proxy).
	proxy   bool
	proxied []endpoint
	// reflector: probed through the reflector, which stands in for hosts
	// that cannot answer (any address, address blocks, UDP to vendors).
	reflector bool
	// why the reflector stands in, for the report.
	standsFor string
	tls       bool
	stun      bool
	// constraints that a result of this flow checks.
	tlsMin, noInspect, proxyAuth *resolve.Constraint
}

// endpoint is a host to probe: a name and one of its addresses, or a
// literal address (Name ""), or for a proxy a name alone.
type endpoint struct {
	Name string
	Addr netip.Addr
}

// hostPort is one endpoint on one port.
type hostPort struct {
	e    endpoint
	port uint16
}

// cross pairs every endpoint with every port, endpoint by endpoint.
func cross(es []endpoint, ports []uint16) []hostPort {
	out := make([]hostPort, 0, len(es)*len(ports))
	for _, e := range es {
		for _, p := range ports {
			out = append(out, hostPort{e, p})
		}
	}
	return out
}

func (e endpoint) String() string {
	switch {
	case e.Name == "":
		return e.Addr.String()
	case !e.Addr.IsValid():
		return e.Name
	}
	return e.Name + " " + e.Addr.String()
}

// host is what a connection asks for: the name when there is one (proxy),
// the address otherwise.
func (e endpoint) host() string {
	if e.Name != "" && !e.Addr.IsValid() {
		return e.Name
	}
	return e.Addr.String()
}

// nameUse is one DNS name and the flows that need it.
type nameUse struct {
	service  string
	name     string
	answer   resolve.Answer
	resolved bool
	err      string
	flows    []string
	required bool
}

// NewPlan expands the choices' flows (every param must be set), resolves
// their names with r and decides how each flow is probed. Its errors are
// the user's to fix: a missing param, a --endpoint no flow covers, a
// reflector that is not an address.
func NewPlan(ctx context.Context, choices []*resolve.Choice, r resolve.Resolver, cfg Config) (*Plan, error) {
	cfg.defaults()
	p := &Plan{cfg: cfg}
	var flows []resolve.Flow
	for _, c := range choices {
		fs, err := c.Flows(true)
		if err != nil {
			return nil, err
		}
		flows = append(flows, fs...)
		p.cons = append(p.cons, c.Constraints()...)
		p.services = append(p.services, c.Service.Slug())
	}
	names, addrs, err := parseEndpoints(cfg.Endpoints)
	if err != nil {
		return nil, err
	}
	covered := map[string]bool{}
	for i := range flows {
		f := &flows[i]
		for _, d := range f.Dest {
			e, err := model.ParseEntry(d)
			if err != nil || e.Kind != model.EntryWildcard {
				continue
			}
			for _, n := range names {
				if strings.HasSuffix(n, "."+e.Domain) && !slices.Contains(f.Dest, n) {
					f.Dest = append(slices.Clone(f.Dest), n)
					covered[n] = true
				}
			}
		}
	}
	if r == nil {
		r = resolve.NoResolve{}
	}
	cache := &resolve.Cache{R: r}
	cs, warns, err := resolve.Concretize(ctx, flows, cache)
	if err != nil {
		return nil, err
	}
	p.warnings = warns
	for i := range cs {
		c := &cs[i]
		for _, a := range addrs {
			if c.Literal != nil && c.Literal.Contains(a) {
				covered[a.String()] = true
			}
		}
	}
	for _, n := range names {
		if !covered[n] {
			return nil, fmt.Errorf("--endpoint %s: no selected flow goes to a wildcard domain above it; portolan sends nothing to names the catalog does not cover", n)
		}
	}
	for _, a := range addrs {
		if !covered[a.String()] {
			return nil, fmt.Errorf("--endpoint %s: no selected flow goes to an address block holding it; portolan sends nothing to addresses the catalog does not name", a)
		}
	}
	if cfg.Reflector != "" {
		if len(cfg.Token) == 0 {
			return nil, fmt.Errorf("--reflector needs --token-file FILE (or $PORTOLAN_TOKEN, or --token): the reflector answers only probes that prove it")
		}
		if p.reflector, err = reflectorAddr(ctx, cfg.Reflector, cache); err != nil {
			return nil, err
		}
	}
	for i := range cs {
		p.flows = append(p.flows, p.planFlow(&cs[i], addrs))
	}
	p.planNames()
	return p, nil
}

// parseEndpoints splits --endpoint values into names and addresses.
func parseEndpoints(ts []string) ([]string, []netip.Addr, error) {
	var names []string
	var addrs []netip.Addr
	for _, t := range ts {
		t = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(t), "."))
		if a, err := netip.ParseAddr(t); err == nil {
			if a.Zone() != "" {
				return nil, nil, fmt.Errorf("--endpoint %s: zones are not allowed", t)
			}
			addrs = append(addrs, a.Unmap())
			continue
		}
		e, err := model.ParseEntry(t)
		if err != nil || e.Kind != model.EntryName {
			return nil, nil, fmt.Errorf("--endpoint %q: a host name (under a wildcard domain) or an address (inside an address block)", t)
		}
		names = append(names, t)
	}
	return names, addrs, nil
}

// reflectorAddr resolves HOST[:PORT].
func reflectorAddr(ctx context.Context, s string, r resolve.Resolver) (netip.AddrPort, error) {
	host, port := s, strconv.Itoa(reflector.DefaultPort)
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") > 1 {
		host = strings.Trim(s, "[]") // a bare IPv6 address
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil || pn == 0 {
		return netip.AddrPort{}, fmt.Errorf("--reflector %q: port %q is not a port", s, port)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), uint16(pn)), nil
	}
	ans, err := r.Lookup(ctx, host)
	if err != nil || len(ans.Addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("--reflector %q: cannot resolve %s: %v", s, host, err)
	}
	return netip.AddrPortFrom(ans.Addrs[0].Unmap(), uint16(pn)), nil
}

func (p *Plan) planFlow(c *resolve.Concrete, targets []netip.Addr) *flowPlan {
	fp := &flowPlan{c: c}
	fp.tls = c.Proto == model.TCP && tlsApps[c.App]
	fp.stun = c.Proto == model.UDP && c.App == "stun"
	for i := range p.cons {
		k := &p.cons[i]
		if k.Service != c.Service || !constraintCovers(k, c) {
			continue
		}
		switch k.Kind {
		case model.KindTLSMin:
			if c.Proto == model.TCP {
				fp.tls = true
				fp.tlsMin = k
			}
		case model.KindSSLInspectionOff:
			fp.noInspect = k
		case model.KindProxyAuth:
			fp.proxyAuth = k
		}
	}
	switch {
	case c.Direction == model.Inbound:
		fp.skip = "inbound: it is started from outside, and the probe runs inside; test it from outside, or check the ruleset with portolan audit"
		return fp
	case c.LAN && !c.Any && len(c.Names) == 0 && (c.Literal == nil || len(c.Literal.Prefixes()) == 0):
		fp.skip = "inside the site (to the LAN): nothing crosses the firewall towards the internet"
		return fp
	}
	// Hosts probed directly.
	for _, n := range c.Names {
		for _, a := range n.Answer.Addrs {
			fp.direct = append(fp.direct, endpoint{Name: n.Name, Addr: a.Unmap()})
		}
	}
	var blocks []string
	if c.Literal != nil {
		for _, pfx := range c.Literal.Prefixes() {
			if pfx.IsSingleIP() {
				fp.direct = append(fp.direct, endpoint{Addr: pfx.Addr()})
				continue
			}
			blocks = append(blocks, pfx.String())
			for _, a := range targets {
				if pfx.Contains(a) {
					fp.direct = append(fp.direct, endpoint{Addr: a})
				}
			}
		}
	}
	// Through the web proxy.
	if c.Via == "proxy" && c.Proto == model.TCP {
		for _, n := range c.Names {
			fp.proxied = append(fp.proxied, endpoint{Name: n.Name})
		}
		for _, e := range fp.direct {
			if e.Name == "" {
				fp.proxied = append(fp.proxied, e)
			}
		}
		if p.cfg.Proxy != nil && len(fp.proxied) > 0 {
			if u, _ := p.cfg.Proxy(net.JoinHostPort(fp.proxied[0].host(), "443")); u != nil {
				fp.proxy = true
			}
		}
	}
	var stands []string
	if c.Any {
		stands = append(stands, "any address")
	}
	stands = append(stands, blocks...)
	if c.Proto == model.UDP && !(fp.stun && len(fp.direct) > 0) {
		// Vendors' hosts do not answer arbitrary UDP: the reflector
		// stands in for them on the flow's ports.
		for _, n := range c.Names {
			stands = append(stands, n.Name)
		}
		for _, e := range fp.direct {
			if e.Name == "" {
				stands = append(stands, e.Addr.String())
			}
		}
		fp.direct = nil
		if len(stands) == 0 && len(c.Wildcards) == 0 {
			stands = append(stands, strings.Join(c.Dest, ", "))
		}
	}
	if len(fp.direct) > 0 || fp.proxy {
		return fp
	}
	if len(stands) > 0 {
		if p.reflector.IsValid() {
			fp.reflector = true
			fp.standsFor = strings.Join(stands, ", ")
			if len(stands) > 3 {
				fp.standsFor = strings.Join(stands[:3], ", ") + fmt.Sprintf(" and %d more", len(stands)-3)
			}
			return fp
		}
		switch {
		case c.Proto == model.UDP && !c.Any && len(blocks) == 0:
			fp.skip = "UDP to " + strings.Join(stands, ", ") + ": the vendor's hosts do not answer arbitrary UDP; give --reflector to test the ports through a portolan reflector"
		case c.Any:
			fp.skip = "no host named (any address); give --reflector to test the ports through a portolan reflector"
		default:
			fp.skip = "address block " + strings.Join(blocks, ", ") + " names no single host; give --endpoint ADDRESS inside it, or --reflector"
		}
		return fp
	}
	switch {
	case len(c.Wildcards) > 0:
		fp.skip = "wildcard " + strings.Join(c.Wildcards, ", ") + ": no host named; give --endpoint NAME under it"
		if c.Via == "proxy" && p.cfg.Proxy == nil {
			fp.skip += " (and --proxy if it goes through one)"
		}
	case len(c.Unresolved) > 0:
		fp.skip = "no address for " + strings.Join(c.Unresolved, ", ") + " (see the dns check)"
	default:
		fp.skip = "no host to probe"
	}
	return fp
}

// constraintCovers reports whether constraint k speaks of flow c: by the
// flows it lists, else its ports (and protocol), else its apps, else its
// host sets; a constraint that names none of these covers every flow.
func constraintCovers(k *resolve.Constraint, c *resolve.Concrete) bool {
	if len(k.Flows) > 0 {
		return slices.Contains(k.Flows, c.Flow.Flow)
	}
	if len(k.Proto) > 0 && !slices.Contains(k.Proto, c.Proto) {
		return false
	}
	if len(k.Ports) > 0 {
		var rs []model.PortRange
		for _, s := range k.Ports {
			if r, err := model.ParsePortRange(s); err == nil {
				rs = append(rs, r)
			}
		}
		return !model.NewPortSet(rs...).Intersect(c.Ports).Empty()
	}
	if len(k.Apps) > 0 {
		return slices.Contains(k.Apps, c.App)
	}
	if len(k.HostSets) > 0 {
		for _, h := range k.HostSets {
			if slices.Contains(c.RemoteSets, h) {
				return true
			}
		}
		return false
	}
	return true
}

// planNames lists every name the flows use, once per service.
func (p *Plan) planNames() {
	idx := map[string]int{}
	for _, fp := range p.flows {
		c := fp.c
		if c.Direction == model.Inbound {
			continue
		}
		for _, n := range c.Names {
			key := c.Service + "\x00" + n.Name
			i, ok := idx[key]
			if !ok {
				i = len(p.names)
				idx[key] = i
				u := nameUse{service: c.Service, name: n.Name, answer: n.Answer, resolved: len(n.Answer.Addrs) > 0}
				for _, w := range p.warnings {
					if w.Service == c.Service && strings.HasPrefix(w.Msg, n.Name+":") {
						u.err = strings.TrimPrefix(w.Msg, n.Name+": ")
					}
				}
				p.names = append(p.names, u)
			}
			u := &p.names[i]
			if !slices.Contains(u.flows, c.Flow.Flow) {
				u.flows = append(u.flows, c.Flow.Flow)
			}
			u.required = u.required || c.Necessity == model.Required
		}
	}
}

// sample picks n ports of s, spread evenly, first and last included; all
// of them when n is 0 or s has no more than n.
func sample(s model.PortSet, n int) []uint16 {
	total := s.Len()
	var out []uint16
	if n <= 0 || total <= n {
		out = make([]uint16, 0, total)
		for _, r := range s.Ranges() {
			for p := int(r.Lo); p <= int(r.Hi); p++ {
				out = append(out, uint16(p))
			}
		}
		return out
	}
	// The k-th of n picks is the port at index k*(total-1)/(n-1).
	idx := make([]int, n)
	for k := range n {
		if n == 1 {
			idx[k] = 0
		} else {
			idx[k] = k * (total - 1) / (n - 1)
		}
	}
	i, base := 0, 0
	for _, r := range s.Ranges() {
		for i < n && idx[i] < base+r.Len() {
			p := uint16(int(r.Lo) + idx[i] - base)
			if len(out) == 0 || out[len(out)-1] != p {
				out = append(out, p)
			}
			i++
		}
		base += r.Len()
	}
	return out
}

// runs groups sorted ports into ranges.
func runs(ports []uint16) []model.PortRange {
	var out []model.PortRange
	for _, p := range ports {
		if n := len(out); n > 0 && int(out[n-1].Hi)+1 == int(p) {
			out[n-1].Hi = p
			continue
		}
		out = append(out, model.PortRange{Lo: p, Hi: p})
	}
	return out
}

func rangeStrings(rs []model.PortRange) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}
