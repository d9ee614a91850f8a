// Package resolve applies a site's choices to services: which features are
// on, the params' values, and the flows and constraints that follow, one
// flow per protocol with params filled in.
package resolve

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/model"
)

// Selection is what the user asked for on the command line.
type Selection struct {
	// Features to turn on: "webrtc" for every selected service that has
	// it, or "starleaf:webrtc" for one.
	Features []string
	// Without turns features off, written like Features.
	Without []string
	// AllFeatures turns every feature on.
	AllFeatures bool
	// Params are "NAME=VALUE" or "service:NAME=VALUE".
	Params []string
	// Platforms are the client platforms to take flows of (--platform);
	// none means every platform. A flow limited to other platforms is
	// left out.
	Platforms []string
}

// Choice is one service with the features and params chosen for it.
type Choice struct {
	Service  *model.Service
	Features map[string]bool   // every feature, on or off
	Params   map[string]string // set params and defaults
	Set      map[string]bool   // params the user set (not defaults)
	// Platforms chosen; none means all.
	Platforms []string
	// Feeds holds what the feeds of host sets gave (hostsrc.Fill), by
	// host set name; the addresses join the set's entries in flows.
	Feeds map[string]*Feed
}

// Feed is what a host set's feed gave: its addresses, and where they come
// from for comments ("source URL version V fetched DATE"). Err says why
// it gave none (the fetch failed and no copy was cached).
type Feed struct {
	Prefixes []netip.Prefix
	About    string
	Err      string
}

// Feed returns what the feed of host set name gave, or nil when it has
// no feed or none was fetched.
func (c *Choice) Feed(name string) *Feed { return c.Feeds[name] }

// Choose applies sel to the services. A feature or param that none of the
// services has, or that a service qualifier names wrongly, is an error, as
// is a param value of the wrong type.
func Choose(svcs []*model.Service, sel Selection) ([]*Choice, error) {
	out := make([]*Choice, len(svcs))
	for i, s := range svcs {
		c := &Choice{Service: s, Features: map[string]bool{}, Params: map[string]string{}, Set: map[string]bool{}}
		for _, f := range s.Features {
			c.Features[f.Name] = f.Default || sel.AllFeatures
		}
		for _, p := range s.Params {
			if p.Default != nil {
				c.Params[p.Name] = *p.Default
			}
		}
		out[i] = c
	}
	for _, on := range []bool{true, false} {
		list := sel.Features
		if !on {
			list = sel.Without
		}
		for _, arg := range list {
			if err := setFeature(out, arg, on); err != nil {
				return nil, err
			}
		}
	}
	for _, arg := range sel.Params {
		if err := setParam(out, arg); err != nil {
			return nil, err
		}
	}
	for _, c := range out {
		if err := c.checkPortExprs(); err != nil {
			return nil, err
		}
	}
	if err := setPlatforms(out, sel.Platforms); err != nil {
		return nil, err
	}
	return out, nil
}

// setPlatforms gives each choice the platforms asked for; a platform that
// no selected service lists is an error. A service that lists none takes
// every flow whatever the platform.
func setPlatforms(cs []*Choice, names []string) error {
	for _, name := range names {
		found := false
		for _, c := range cs {
			if c.Service.Platform(name) != nil {
				found = true
			}
		}
		if !found {
			var parts []string
			for _, c := range cs {
				var ps []string
				for _, p := range c.Service.Platforms {
					ps = append(ps, p.Name)
				}
				if len(ps) == 0 {
					ps = []string{"none"}
				}
				parts = append(parts, c.Service.Slug()+" has "+strings.Join(ps, ", "))
			}
			return fmt.Errorf("--platform %q: unknown platform; %s", name, strings.Join(parts, "; "))
		}
	}
	for _, c := range cs {
		c.Platforms = slices.Clone(names)
	}
	return nil
}

// OnPlatform reports whether a flow limited to ps is used on one of the
// chosen platforms; with none chosen, every flow is.
func (c *Choice) OnPlatform(ps *model.Platforms) bool {
	if ps == nil || len(c.Platforms) == 0 || len(c.Service.Platforms) == 0 {
		return true
	}
	for _, p := range c.Platforms {
		if ps.Includes(p) {
			return true
		}
	}
	return false
}

// checkPortExprs evaluates every port range sized by a param (10000+2*{calls})
// of the flows and constraints that are on, so that a value that makes
// a range empty, reversed or longer than 65535 is an error naming the param.
func (c *Choice) checkPortExprs() error {
	check := func(id string, ports []string) error {
		for _, s := range ports {
			if !model.IsPortExpr(s) {
				continue
			}
			e, err := model.ParsePortExpr(s)
			if err != nil {
				return fmt.Errorf("%s/%s: %v", c.Service.Slug(), id, err)
			}
			val, ok := c.Params[e.Param]
			if !ok {
				continue
			}
			n, err := catalog.ParseNumber(val)
			if err == nil {
				_, err = e.Eval(n)
			}
			if err != nil {
				how := "the default of param " + e.Param
				if c.Set[e.Param] {
					how = "--param " + e.Param
				}
				return fmt.Errorf("%s: %s/%s ports: %v", how, c.Service.Slug(), id, err)
			}
		}
		return nil
	}
	for _, f := range c.Service.Flows {
		if !c.On(f.Feature) {
			continue
		}
		lists := [][]string{f.Ports, f.SrcPorts}
		if f.LocalSrcPorts != nil {
			lists = append(lists, f.LocalSrcPorts.Ports)
		}
		for _, ps := range lists {
			if err := check(f.ID, ps); err != nil {
				return err
			}
		}
	}
	for _, k := range c.Service.Constraints {
		if c.On(k.Feature) {
			if err := check(k.ID, k.Ports); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitQualified splits "svc:name" into its parts; svc is "" when absent.
func splitQualified(s string) (svc, name string) {
	if a, b, ok := strings.Cut(s, ":"); ok {
		return a, b
	}
	return "", s
}

func setFeature(cs []*Choice, arg string, on bool) error {
	svc, name := splitQualified(arg)
	found := false
	for _, c := range cs {
		if svc != "" && c.Service.Slug() != svc {
			continue
		}
		if _, ok := c.Features[name]; ok {
			c.Features[name] = on
			found = true
		}
	}
	if found {
		return nil
	}
	return fmt.Errorf("unknown feature %q: %s", arg, listFeatures(cs, svc))
}

func listFeatures(cs []*Choice, only string) string {
	var parts []string
	for _, c := range cs {
		if only != "" && c.Service.Slug() != only {
			continue
		}
		var names []string
		for _, f := range c.Service.Features {
			names = append(names, f.Name)
		}
		if len(names) == 0 {
			names = []string{"none"}
		}
		parts = append(parts, c.Service.Slug()+" has "+strings.Join(names, ", "))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("no selected service is called %q", only)
	}
	return strings.Join(parts, "; ")
}

func setParam(cs []*Choice, arg string) error {
	key, val, ok := strings.Cut(arg, "=")
	if !ok || key == "" {
		return fmt.Errorf("--param %q: write NAME=VALUE (or SERVICE:NAME=VALUE)", arg)
	}
	svc, name := splitQualified(key)
	found := false
	for _, c := range cs {
		if svc != "" && c.Service.Slug() != svc {
			continue
		}
		p := c.Service.Param(name)
		if p == nil {
			continue
		}
		if err := catalog.CheckParamValue(p.Type, val); err != nil {
			return fmt.Errorf("--param %s: %v (%s: %s)", key, err, c.Service.Slug(), p.Description)
		}
		c.Params[name] = val
		c.Set[name] = true
		found = true
	}
	if found {
		return nil
	}
	var parts []string
	for _, c := range cs {
		if svc != "" && c.Service.Slug() != svc {
			continue
		}
		var names []string
		for _, p := range c.Service.Params {
			names = append(names, p.Name)
		}
		if len(names) == 0 {
			names = []string{"none"}
		}
		parts = append(parts, c.Service.Slug()+" takes "+strings.Join(names, ", "))
	}
	if len(parts) == 0 {
		return fmt.Errorf("--param %s: no selected service is called %q", key, svc)
	}
	return fmt.Errorf("--param %s: unknown param %q; %s", key, name, strings.Join(parts, "; "))
}

// On reports whether feature f is on; "" (no feature) is always on.
func (c *Choice) On(f string) bool { return f == "" || c.Features[f] }

// Flow is one flow for one protocol, with params filled in.
type Flow struct {
	Service   string          `json:"service" yaml:"service"`
	ID        string          `json:"id" yaml:"id"`
	Flow      string          `json:"flow" yaml:"flow"`
	Direction model.Direction `json:"direction" yaml:"direction"`
	Proto     string          `json:"proto" yaml:"proto"`
	Ports     []string        `json:"ports" yaml:"ports"`
	SrcPorts  []string        `json:"src_ports,omitempty" yaml:"src_ports,omitempty"`
	// LocalSrcPorts are the ports the local side usually sends from; no
	// rule matches on them.
	LocalSrcPorts *model.LocalSrcPorts `json:"local_src_ports,omitempty" yaml:"local_src_ports,omitempty"`
	Local         string               `json:"local" yaml:"local"`
	LocalAddress  string               `json:"local_address,omitempty" yaml:"local_address,omitempty"`
	Dest          []string             `json:"dest" yaml:"dest"`
	RemoteSets    []string             `json:"remote_sets" yaml:"remote_sets"`
	// RemoteRoles are the roles of the site a flow between two of its
	// machines goes to; Dest then holds their addresses, or "lan".
	RemoteRoles  []string        `json:"remote_roles,omitempty" yaml:"remote_roles,omitempty"`
	Necessity    model.Necessity `json:"necessity" yaml:"necessity"`
	RequiredWith string          `json:"required_with,omitempty" yaml:"required_with,omitempty"`
	Condition    string          `json:"condition,omitempty" yaml:"condition,omitempty"`
	Feature      string          `json:"feature" yaml:"feature"`
	App          string          `json:"app" yaml:"app"`
	OneOf        bool            `json:"one_of,omitempty" yaml:"one_of,omitempty"`
	Fallback     []string        `json:"fallback,omitempty" yaml:"fallback,omitempty"`
	Via          string          `json:"via,omitempty" yaml:"via,omitempty"`
	// Platforms limits the flow to some client platforms; nil is all.
	Platforms *model.Platforms `json:"platforms,omitempty" yaml:"platforms,omitempty"`
	Purpose   string           `json:"purpose" yaml:"purpose"`
	Purposes  model.Text       `json:"purposes" yaml:"purposes"`
	Note      string           `json:"note,omitempty" yaml:"note,omitempty"`
	Source    model.Source     `json:"source" yaml:"source"`
	// Missing lists params still shown as placeholders.
	Missing []string `json:"missing_params,omitempty" yaml:"missing_params,omitempty"`
}

// Placeholder reports whether the flow still holds unfilled params.
func (f *Flow) Placeholder() bool { return len(f.Missing) > 0 }

// PortRanges parses the flow's ports; it fails while params are missing.
func (f *Flow) PortRanges() ([]model.PortRange, error) { return parsePorts(f.Ports) }

// SrcPortRanges parses the flow's source ports (none means any).
func (f *Flow) SrcPortRanges() ([]model.PortRange, error) { return parsePorts(f.SrcPorts) }

func parsePorts(ps []string) ([]model.PortRange, error) {
	out := make([]model.PortRange, 0, len(ps))
	for _, p := range ps {
		r, err := model.ParsePortRange(p)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// MissingParamError says which params a strict expansion lacked.
type MissingParamError struct {
	Service string
	Params  []MissingParam
}

// MissingParam is one param and what needs it.
type MissingParam struct {
	Param       *model.Param
	NeededBy    []string // flow and constraint ids
	ViaFeatures []string // features that brought those in
}

func (e *MissingParamError) Error() string {
	var b strings.Builder
	for i, m := range e.Params {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: missing param %s, needed by %s", e.Service, m.Param.Name, strings.Join(m.NeededBy, ", "))
		if len(m.ViaFeatures) > 0 {
			fmt.Fprintf(&b, " (feature %s)", strings.Join(m.ViaFeatures, ", "))
		}
		fmt.Fprintf(&b, ": pass --param %s=VALUE", m.Param.Name)
		if m.Param.Example != "" {
			fmt.Fprintf(&b, " (e.g. %s=%s)", m.Param.Name, m.Param.Example)
		}
		fmt.Fprintf(&b, "; %s", m.Param.Description)
	}
	return b.String()
}

// Flows expands the choice's flows: features applied, one flow per
// protocol, params filled in. With strict, a param that a selected flow
// needs and nobody set is a *MissingParamError; otherwise it stays as a
// placeholder ({company}.call.sl) and is listed in Missing.
func (c *Choice) Flows(strict bool) ([]Flow, error) {
	svc := c.Service
	var out []Flow
	missing := newMissing()
	for i := range svc.Flows {
		f := &svc.Flows[i]
		if !c.On(f.Feature) || !c.OnPlatform(f.Platforms) {
			continue
		}
		ports, m1 := c.subPorts(f.Ports)
		src, m2 := c.subPorts(f.SrcPorts)
		var lsp *model.LocalSrcPorts
		if f.LocalSrcPorts != nil {
			ps, m := c.subPorts(f.LocalSrcPorts.Ports)
			m2 = append(m2, m...)
			lsp = &model.LocalSrcPorts{Ports: ps, Source: model.Source{Document: svc.SourceDocument(f.LocalSrcPorts.Source), Quote: f.LocalSrcPorts.Source.Quote, Line: f.LocalSrcPorts.Source.Line}}
		}
		dest, m3 := c.subHosts(f.Remote, true)
		if len(f.RemoteRoles) > 0 {
			dest = c.roleDests(f.RemoteRoles)
		}
		fmiss := dedupe(slices.Concat(m1, m2, m3))
		nec := f.Necessity
		if f.RequiredWith != "" && c.Features[f.RequiredWith] {
			nec = model.Required
		}
		ids := catalog.ExpandedIDs(f)
		k := 0
		for _, local := range f.Local {
			miss := fmiss
			var localAddr string
			if r := svc.Role(local); r != nil && r.AddressParam != "" {
				localAddr = c.Params[r.AddressParam]
				if localAddr == "" && f.Direction == model.Inbound && len(f.RemoteRoles) == 0 && !onlyLAN(dest) {
					miss = append(slices.Clone(miss), r.AddressParam)
				}
			}
			for _, name := range miss {
				missing.add(name, f.ID, f.Feature)
			}
			for _, proto := range f.Proto {
				out = append(out, Flow{
					Service: svc.Slug(), ID: ids[k], Flow: f.ID,
					Direction: f.Direction, Proto: proto,
					Ports: ports, SrcPorts: src, LocalSrcPorts: lsp,
					Local: local, LocalAddress: localAddr,
					Dest: dest, RemoteSets: f.Remote, RemoteRoles: f.RemoteRoles,
					Necessity: nec, RequiredWith: f.RequiredWith, Condition: f.Condition.En(),
					Feature: f.Feature, App: f.App,
					OneOf: f.OneOf, Fallback: f.Fallback, Via: f.Via, Platforms: f.Platforms,
					Purpose: f.Purpose.En(), Purposes: f.Purpose, Note: f.Note,
					Source:  model.Source{Document: svc.SourceDocument(f.Source), Quote: f.Source.Quote, Line: f.Source.Line},
					Missing: miss,
				})
				k++
			}
		}
	}
	if strict {
		if err := missing.err(svc); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// roleDests is the remote side of a flow between roles of the site: each
// role's address when its address param is set, else "lan" (the role is
// somewhere in the site's networks).
func (c *Choice) roleDests(roles []string) []string {
	var out []string
	for _, name := range roles {
		d := "lan"
		if r := c.Service.Role(name); r != nil && r.AddressParam != "" && c.Params[r.AddressParam] != "" {
			d = c.Params[r.AddressParam]
		}
		out = append(out, d)
	}
	return dedupe(out)
}

func onlyLAN(dest []string) bool {
	for _, d := range dest {
		if d != "lan" {
			return false
		}
	}
	return len(dest) > 0
}

func (c *Choice) lookup(name string) (string, bool) {
	v, ok := c.Params[name]
	return v, ok
}

// subPorts fills ports params in; a ports param may hold several ranges,
// a number param sizes a range (10000+2*{calls}).
func (c *Choice) subPorts(ports []string) ([]string, []string) {
	var out, missing []string
	for _, p := range ports {
		if model.IsPortExpr(p) {
			if e, err := model.ParsePortExpr(p); err == nil {
				v, ok := c.lookup(e.Param)
				if !ok {
					missing = append(missing, e.Param)
					out = append(out, p)
					continue
				}
				n, err := catalog.ParseNumber(v)
				if err == nil {
					if r, err := e.Eval(n); err == nil {
						out = append(out, r.String())
						continue
					}
				}
			}
			out = append(out, p) // Choose reported it; PortRanges fails on it
			continue
		}
		if name, ok := model.IsWholeParam(p); ok {
			if v, ok := c.lookup(name); ok {
				out = append(out, catalog.SplitList(v)...)
				continue
			}
			missing = append(missing, name)
		}
		out = append(out, p)
	}
	return out, missing
}

// HostEntries returns the entries of the service's host set called name,
// with params filled in as flows and constraints list them (a hosts param
// may stand for several entries); nil for an unknown set. The addresses
// of its feed are not among them (Feed has them).
func (c *Choice) HostEntries(name string) []string {
	out, _ := c.subHosts([]string{name}, false)
	return out
}

// subHosts lists the entries of the named host sets with params filled
// in, and with feeds the addresses their feeds gave.
func (c *Choice) subHosts(sets []string, feeds bool) ([]string, []string) {
	var out, missing []string
	for _, name := range sets {
		h := c.Service.HostSet(name)
		if h == nil {
			continue
		}
		for _, e := range h.Entries {
			if pname, ok := model.IsWholeParam(e); ok {
				if v, ok := c.lookup(pname); ok {
					out = append(out, catalog.SplitList(v)...)
					continue
				}
			}
			s, miss := model.Substitute(e, c.lookup)
			out = append(out, s)
			missing = append(missing, miss...)
		}
		if fd := c.Feeds[name]; feeds && fd != nil {
			for _, p := range fd.Prefixes {
				if p.IsSingleIP() {
					out = append(out, p.Addr().String())
				} else {
					out = append(out, p.String())
				}
			}
		}
	}
	return dedupe(out), missing
}

func dedupe(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

type missingSet struct {
	order    []string
	neededBy map[string][]string
	features map[string][]string
}

func newMissing() *missingSet {
	return &missingSet{neededBy: map[string][]string{}, features: map[string][]string{}}
}

func (m *missingSet) add(param, by, feature string) {
	if _, ok := m.neededBy[param]; !ok {
		m.order = append(m.order, param)
	}
	if !slices.Contains(m.neededBy[param], by) {
		m.neededBy[param] = append(m.neededBy[param], by)
	}
	if feature != "" && !slices.Contains(m.features[param], feature) {
		m.features[param] = append(m.features[param], feature)
	}
}

func (m *missingSet) err(svc *model.Service) error {
	if len(m.order) == 0 {
		return nil
	}
	e := &MissingParamError{Service: svc.Slug()}
	for _, name := range m.order {
		e.Params = append(e.Params, MissingParam{Param: svc.Param(name), NeededBy: m.neededBy[name], ViaFeatures: m.features[name]})
	}
	return e
}

// Constraint is a constraint that applies to the choice, with its host
// sets' entries listed.
type Constraint struct {
	Service    string               `json:"service" yaml:"service"`
	ID         string               `json:"id" yaml:"id"`
	Kind       model.ConstraintKind `json:"kind" yaml:"kind"`
	Feature    string               `json:"feature" yaml:"feature"`
	Apps       []string             `json:"apps,omitempty" yaml:"apps,omitempty"`
	Proto      []string             `json:"proto,omitempty" yaml:"proto,omitempty"`
	Ports      []string             `json:"ports,omitempty" yaml:"ports,omitempty"`
	Hosts      []string             `json:"hosts,omitempty" yaml:"hosts,omitempty"`
	HostSets   []string             `json:"host_sets,omitempty" yaml:"host_sets,omitempty"`
	Flows      []string             `json:"flows,omitempty" yaml:"flows,omitempty"`
	MinTimeout string               `json:"min_timeout,omitempty" yaml:"min_timeout,omitempty"`
	Keepalive  string               `json:"keepalive,omitempty" yaml:"keepalive,omitempty"`
	MinVersion string               `json:"min_version,omitempty" yaml:"min_version,omitempty"`
	Allowed    []string             `json:"allowed,omitempty" yaml:"allowed,omitempty"`
	Refused    []string             `json:"refused,omitempty" yaml:"refused,omitempty"`
	Purpose    string               `json:"purpose" yaml:"purpose"`
	Purposes   model.Text           `json:"purposes" yaml:"purposes"`
	Note       string               `json:"note,omitempty" yaml:"note,omitempty"`
	Source     model.Source         `json:"source" yaml:"source"`
}

// Constraints lists the constraints whose feature is on.
func (c *Choice) Constraints() []Constraint {
	svc := c.Service
	var out []Constraint
	for _, k := range svc.Constraints {
		if !c.On(k.Feature) {
			continue
		}
		hosts, _ := c.subHosts(k.Hosts, false)
		ports, _ := c.subPorts(k.Ports)
		out = append(out, Constraint{
			Service: svc.Slug(), ID: k.ID, Kind: k.Kind, Feature: k.Feature,
			Apps: k.Apps, Proto: k.Proto, Ports: ports,
			Hosts: hosts, HostSets: k.Hosts, Flows: k.Flows,
			MinTimeout: string(k.MinTimeout), Keepalive: string(k.Keepalive), MinVersion: k.MinVersion,
			Allowed: k.Allowed, Refused: k.Refused,
			Purpose: k.Purpose.En(), Purposes: k.Purpose, Note: k.Note,
			Source: model.Source{Document: svc.SourceDocument(k.Source), Quote: k.Source.Quote, Line: k.Source.Line},
		})
	}
	return out
}

// EnabledFeatures returns the names of the features that are on, in
// profile order; DisabledFeatures the others.
func (c *Choice) EnabledFeatures() []string { return c.features(true) }

// DisabledFeatures returns the features that are off, in profile order.
func (c *Choice) DisabledFeatures() []string { return c.features(false) }

func (c *Choice) features(on bool) []string {
	var out []string
	for _, f := range c.Service.Features {
		if c.Features[f.Name] == on {
			out = append(out, f.Name)
		}
	}
	return out
}

// SortFlows orders flows by service order given, then feature (base
// first, then profile order), then profile order; it is stable.
func SortFlows(flows []Flow, svc *model.Service) {
	rank := map[string]int{"": -1}
	for i, f := range svc.Features {
		rank[f.Name] = i
	}
	sort.SliceStable(flows, func(i, j int) bool { return rank[flows[i].Feature] < rank[flows[j].Feature] })
}
