package catalog

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portolan/portolan/internal/lazyre"
	"github.com/portolan/portolan/model"
)

var (
	slugRE = lazyre.New(`^[a-z][a-z0-9-]*$`)
	// serviceSlugRE also takes a leading digit: vendors are called 8x8.
	serviceSlugRE = lazyre.New(`^[a-z0-9][a-z0-9-]*$`)
	langRE        = lazyre.New(`^[a-z]{2}$`)
)

// TLSVersions are the versions a tls-min constraint may name.
var TLSVersions = []string{"1.0", "1.1", "1.2", "1.3"}

type validator struct {
	svc     *model.Service
	idx     *index
	errs    Errors
	defined map[string]string // known() of each kind of name, built once
}

func (v *validator) errf(path, format string, a ...any) {
	v.errs = append(v.errs, v.idx.at(path, format, a...))
}

// validate checks what the YAML types cannot: names, references, ports,
// addresses, and that every statement carries its source.
func validate(svc *model.Service, idx *index) Errors {
	v := &validator{svc: svc, idx: idx}
	v.info()
	v.params()
	v.features()
	v.platforms()
	v.roles()
	v.hosts()
	v.flows()
	v.constraints()
	for i, n := range svc.Notes {
		p := fmt.Sprintf("notes[%d]", i)
		if strings.TrimSpace(n.Text) == "" {
			v.errf(p+".text", "a note needs its text")
		}
		for j, id := range n.About {
			if svc.Flow(id) == nil && v.constraint(id) == nil && svc.HostSet(id) == nil && svc.Feature(id) == nil && svc.Param(id) == nil && svc.Role(id) == nil && svc.Platform(id) == nil {
				v.errf(fmt.Sprintf("%s.about[%d]", p, j), "%q is no flow, constraint, host set, feature, param, role or platform of this profile", id)
			}
		}
	}
	return v.errs
}

func (v *validator) constraint(id string) *model.Constraint {
	for i := range v.svc.Constraints {
		if v.svc.Constraints[i].ID == id {
			return &v.svc.Constraints[i]
		}
	}
	return nil
}

// name checks the name of a param, feature, role or host set: present,
// well formed and not taken by another of its kind.
func (v *validator) name(path, kind, name string, ok func(string) bool, form string, seen map[string]bool) {
	if !v.required(path+".name", name) {
		return
	}
	if !ok(name) {
		v.errf(path+".name", "%s name %q must be %s", kind, name, form)
	}
	if seen[name] {
		v.errf(path+".name", "duplicate %s %q", kind, name)
	}
	seen[name] = true
}

func (v *validator) required(path, value string) bool {
	if strings.TrimSpace(value) == "" {
		v.errf(path, "required field is missing or empty")
		return false
	}
	return true
}

func (v *validator) info() {
	in := v.svc.Info
	if v.required("service.slug", in.Slug) && !serviceSlugRE.MatchString(in.Slug) {
		v.errf("service.slug", "slug %q must be lower-case letters, digits and hyphens, starting with a letter or digit", in.Slug)
	}
	v.required("service.name", in.Name)
	v.required("service.vendor", in.Vendor)
	v.required("service.document", in.Document)
	if v.required("service.language", in.Language) && !langRE.MatchString(in.Language) {
		v.errf("service.language", "language %q must be a two-letter ISO 639-1 code such as de, pt, en", in.Language)
	}
}

func (v *validator) params() {
	seen := map[string]bool{}
	for i, p := range v.svc.Params {
		path := fmt.Sprintf("params[%d]", i)
		v.name(path, "param", p.Name, model.ValidParamName, "lower-case letters, digits and underscores", seen)
		v.required(path+".description", p.Description)
		switch p.Type {
		case model.ParamDNSLabel, model.ParamAddress, model.ParamPorts, model.ParamHosts, model.ParamText, model.ParamNumber:
		case "":
			v.errf(path+".type", "required field is missing; one of dns-label, address, ports, hosts, text, number")
			continue
		default:
			v.errf(path+".type", "unknown param type %q; one of dns-label, address, ports, hosts, text, number", p.Type)
			continue
		}
		if p.Example != "" {
			if err := CheckParamValue(p.Type, p.Example); err != nil {
				v.errf(path+".example", "%v", err)
			}
		}
		if p.Default != nil {
			if err := CheckParamValue(p.Type, *p.Default); err != nil {
				v.errf(path+".default", "%v", err)
			}
		}
		v.source(path+".source", p.Source)
	}
}

// CheckParamValue checks a param value against its type.
func CheckParamValue(t model.ParamType, val string) error {
	switch t {
	case model.ParamDNSLabel:
		if !model.ValidLabel(val) {
			return fmt.Errorf("%q is not one lower-case DNS label (letters, digits, hyphens)", val)
		}
	case model.ParamAddress:
		a, err := netip.ParseAddr(val)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("%q is not an IPv4 or IPv6 address", val)
		}
		if _, err := model.ParseAddr(val); err != nil {
			return err // IPv4-mapped IPv6: write it as IPv4
		}
	case model.ParamPorts:
		if _, err := model.ParsePortList(val); err != nil {
			return fmt.Errorf("%q is not a list of ports and ranges: %v", val, err)
		}
	case model.ParamHosts:
		for _, s := range SplitList(val) {
			e, err := model.ParseEntry(s)
			if err != nil {
				return err
			}
			if e.Kind == model.EntryTemplate {
				return fmt.Errorf("%q: a param value cannot hold another param", s)
			}
		}
	case model.ParamText:
		if strings.ContainsAny(val, "\n\r") {
			return fmt.Errorf("a text param is one line")
		}
	case model.ParamNumber:
		if _, err := ParseNumber(val); err != nil {
			return err
		}
	}
	return nil
}

// ParseNumber parses a number param's value: digits, no sign or leading
// zero, at most 65535.
func ParseNumber(val string) (int, error) {
	ok := val != "" && (val == "0" || val[0] != '0')
	for _, c := range val {
		ok = ok && c >= '0' && c <= '9'
	}
	if !ok || len(val) > 5 {
		return 0, fmt.Errorf("%q is not a whole number in 0..65535", val)
	}
	n, _ := strconv.Atoi(val)
	if n > 65535 {
		return 0, fmt.Errorf("%q is not a whole number in 0..65535", val)
	}
	return n, nil
}

// SplitList splits a comma-separated param value, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (v *validator) features() {
	seen := map[string]bool{}
	for i, f := range v.svc.Features {
		path := fmt.Sprintf("features[%d]", i)
		v.name(path, "feature", f.Name, slugRE.MatchString, "lower-case letters, digits and hyphens", seen)
		v.required(path+".description", f.Description)
		v.source(path+".source", f.Source)
	}
}

func (v *validator) platforms() {
	seen := map[string]bool{}
	for i, p := range v.svc.Platforms {
		path := fmt.Sprintf("platforms[%d]", i)
		v.name(path, "platform", p.Name, slugRE.MatchString, "lower-case letters, digits and hyphens", seen)
		v.required(path+".description", p.Description)
	}
}

// flowPlatforms checks a flow's platforms: only or except, each a
// platform the profile lists.
func (v *validator) flowPlatforms(path string, ps *model.Platforms) {
	if ps == nil {
		return
	}
	switch {
	case len(ps.Only) > 0 && len(ps.Except) > 0:
		v.errf(path, "give only or except, not both")
	case len(ps.Only) == 0 && len(ps.Except) == 0:
		v.errf(path, "give only: [platforms] or except: [platforms]")
	}
	for _, l := range []struct {
		field string
		names []string
	}{{"only", ps.Only}, {"except", ps.Except}} {
		field, names := l.field, l.names
		for j, n := range names {
			p := fmt.Sprintf("%s.%s[%d]", path, field, j)
			switch {
			case v.svc.Platform(n) == nil:
				v.errf(p, "undefined platform %q%s", n, v.known("platform", platformNames))
			case slices.Index(names, n) != j:
				v.errf(p, "platform %q listed twice", n)
			}
		}
	}
	if len(ps.Except) > 0 && len(ps.Except) >= len(v.svc.Platforms) && len(v.svc.Platforms) > 0 {
		v.errf(path+".except", "every platform is excepted: the flow would never be used")
	}
}

func (v *validator) roles() {
	seen := map[string]bool{}
	for i, r := range v.svc.Roles {
		path := fmt.Sprintf("roles[%d]", i)
		v.name(path, "role", r.Name, slugRE.MatchString, "lower-case letters, digits and hyphens", seen)
		v.required(path+".description", r.Description)
		if r.AddressParam != "" {
			p := v.svc.Param(r.AddressParam)
			switch {
			case p == nil:
				v.errf(path+".address_param", "undefined param %q", r.AddressParam)
			case knownType(p) && p.Type != model.ParamAddress:
				v.errf(path+".address_param", "param %q is of type %s; a role's address param must be of type address", r.AddressParam, p.Type)
			}
		}
	}
}

func (v *validator) hosts() {
	seen := map[string]bool{}
	for i, h := range v.svc.Hosts {
		path := fmt.Sprintf("hosts[%d]", i)
		v.name(path, "host set", h.Name, slugRE.MatchString, "lower-case letters, digits and hyphens", seen)
		v.required(path+".description", h.Description)
		if len(h.Entries) == 0 && h.Feed == nil {
			v.errf(path+".entries", "a host set needs at least one entry, or a feed")
		}
		for j, s := range h.Entries {
			v.entry(fmt.Sprintf("%s.entries[%d]", path, j), s)
		}
		v.source(path+".source", h.Source)
		if h.Feed != nil {
			v.feed(path+".feed", h.Feed)
		}
	}
}

// feed checks a host set's feed: a known format, a URL or a file (not
// both), and m365's filters only with m365.
func (v *validator) feed(path string, f *model.Feed) {
	switch {
	case f.Format == "":
		v.errf(path+".format", "required field is missing; one of %s", strings.Join(model.FeedFormats, ", "))
	case !slices.Contains(model.FeedFormats, f.Format):
		v.errf(path+".format", "unknown feed format %q; one of %s", f.Format, strings.Join(model.FeedFormats, ", "))
	}
	switch {
	case f.URL == "" && f.File == "":
		v.errf(path, "a feed needs a url or a file")
	case f.URL != "" && f.File != "":
		v.errf(path+".file", "a feed takes a url or a file, not both")
	}
	for _, u := range []struct{ field, val string }{{"url", f.URL}, {"version_url", f.VersionURL}} {
		if u.val == "" {
			continue
		}
		pu, err := url.Parse(u.val)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			v.errf(path+"."+u.field, "%q is not an http or https URL", u.val)
		}
	}
	if f.Format != model.FeedM365 {
		for _, x := range []struct {
			field string
			set   bool
		}{{"service_area", f.ServiceArea != ""}, {"required_only", f.RequiredOnly}, {"category", len(f.Category) > 0}, {"version_url", f.VersionURL != ""}} {
			if x.set {
				v.errf(path+"."+x.field, "only an m365 feed takes %s", x.field)
			}
		}
	}
	for j, c := range f.Category {
		if !slices.Contains([]string{"Optimize", "Allow", "Default"}, c) {
			v.errf(fmt.Sprintf("%s.category[%d]", path, j), "unknown category %q; Optimize, Allow or Default", c)
		}
	}
}

func (v *validator) entry(path, s string) {
	e, err := model.ParseEntry(s)
	if err != nil {
		v.errf(path, "%v", err)
		return
	}
	if e.Kind != model.EntryTemplate {
		return
	}
	if name, whole := model.IsWholeParam(s); whole {
		p := v.svc.Param(name)
		switch {
		case p == nil:
			v.errf(path, "undefined param %q", name)
		case knownType(p) && p.Type != model.ParamHosts && p.Type != model.ParamAddress:
			v.errf(path, "param %q is of type %s; a whole host entry takes a param of type hosts or address", name, p.Type)
		}
		return
	}
	for _, name := range model.TemplateParams(s) {
		p := v.svc.Param(name)
		switch {
		case p == nil:
			v.errf(path, "undefined param %q", name)
		case knownType(p) && p.Type != model.ParamDNSLabel:
			v.errf(path, "param %q is of type %s; inside a name only dns-label params fit", name, p.Type)
		}
	}
}

func (v *validator) ports(path string, ports []string, needed bool) {
	if len(ports) == 0 && needed {
		v.errf(path, "at least one port or range is needed")
	}
	for j, s := range ports {
		pp := fmt.Sprintf("%s[%d]", path, j)
		if name, ok := model.IsWholeParam(s); ok {
			p := v.svc.Param(name)
			switch {
			case p == nil:
				v.errf(pp, "undefined param %q", name)
			case knownType(p) && p.Type != model.ParamPorts:
				v.errf(pp, "param %q is of type %s; ports take a param of type ports", name, p.Type)
			}
			continue
		}
		if model.IsPortExpr(s) {
			v.portExpr(pp, s)
			continue
		}
		if _, err := model.ParsePortRange(s); err != nil {
			v.errf(pp, "%v", err)
		}
	}
}

// portExpr checks a port range sized by a number param, and the range the
// param's default and example give.
func (v *validator) portExpr(path, s string) {
	e, err := model.ParsePortExpr(s)
	if err != nil {
		v.errf(path, "%v", err)
		return
	}
	p := v.svc.Param(e.Param)
	switch {
	case p == nil:
		v.errf(path, "undefined param %q", e.Param)
		return
	case !knownType(p):
		return
	case p.Type != model.ParamNumber:
		v.errf(path, "param %q is of type %s; a port expression takes a param of type number", e.Param, p.Type)
		return
	}
	for _, val := range []*string{p.Default, &p.Example} {
		if val == nil || *val == "" {
			continue
		}
		n, err := ParseNumber(*val)
		if err != nil {
			continue // reported at the param
		}
		if _, err := e.Eval(n); err != nil {
			v.errf(path, "%v", err)
		}
	}
}

func (v *validator) protos(path string, protos model.StringList, needed bool) {
	if len(protos) == 0 && needed {
		v.errf(path, "required field is missing; tcp, udp or both")
	}
	for j, p := range protos {
		if p != model.TCP && p != model.UDP {
			v.errf(fmt.Sprintf("%s[%d]", path, j), "unknown protocol %q; tcp or udp", p)
		} else if slices.Index(protos, p) != j {
			v.errf(fmt.Sprintf("%s[%d]", path, j), "protocol %q listed twice", p)
		}
	}
}

// text checks that a text has English and the document's language.
func (v *validator) text(path string, t model.Text) {
	if len(t) == 0 {
		v.errf(path, "required field is missing; give the document's words and an English one")
		return
	}
	for _, l := range t.Langs() {
		if !langRE.MatchString(l) {
			v.errf(path+"."+l, "language %q must be a two-letter ISO 639-1 code", l)
		}
		if strings.TrimSpace(t[l]) == "" {
			v.errf(path+"."+l, "empty text")
		}
	}
	if _, ok := t["en"]; !ok {
		v.errf(path, "an English text (en) is required")
	}
	if lang := v.svc.Info.Language; lang != "" && lang != "en" {
		if _, ok := t[lang]; !ok {
			v.errf(path, "the document's own language (%s) is required beside English", lang)
		}
	}
}

func (v *validator) source(path string, s *model.Source) {
	if s == nil {
		return
	}
	if strings.TrimSpace(s.Quote) == "" {
		v.errf(path+".quote", "a source needs the quoted words from the document")
	}
	if strings.ContainsAny(s.Quote, "\n\r") {
		v.errf(path+".quote", "a quote is one line of the document")
	}
	if s.Line < 0 {
		v.errf(path+".line", "line %d is not a line number", s.Line)
	}
}

func (v *validator) feature(path, name string) {
	if name != "" && v.svc.Feature(name) == nil {
		v.errf(path, "undefined feature %q%s", name, v.known("feature", featureNames))
	}
}

func (v *validator) hostRefs(path string, names []string, needed bool) {
	if len(names) == 0 && needed {
		v.errf(path, "name at least one host set")
	}
	for j, h := range names {
		if v.svc.HostSet(h) == nil {
			v.errf(fmt.Sprintf("%s[%d]", path, j), "undefined host set %q%s", h, v.known("host", hostNames))
		}
	}
}

func (v *validator) flows() {
	if len(v.svc.Flows) == 0 {
		v.errf("flows", "a profile needs at least one flow")
	}
	ids := map[string]string{} // flow id and expanded ids → path of its flow
	for i := range v.svc.Flows {
		f := &v.svc.Flows[i]
		path := fmt.Sprintf("flows[%d]", i)
		if v.required(path+".id", f.ID) {
			if !slugRE.MatchString(f.ID) {
				v.errf(path+".id", "flow id %q must be lower-case letters, digits and hyphens", f.ID)
			}
			for _, id := range dedupeStrings(append([]string{f.ID}, ExpandedIDs(f)...)) {
				if prev, dup := ids[id]; dup {
					v.errf(path+".id", "duplicate flow id %q (also at %s)", id, prev)
					break
				}
				ids[id] = path
			}
		}
		switch f.Direction {
		case model.Outbound, model.Inbound:
		case "":
			v.errf(path+".direction", "required field is missing; outbound or inbound")
		default:
			v.errf(path+".direction", "unknown direction %q; outbound (started from the site) or inbound (started from outside)", f.Direction)
		}
		v.protos(path+".proto", f.Proto, true)
		v.ports(path+".ports", f.Ports, true)
		v.ports(path+".src_ports", f.SrcPorts, false)
		if l := f.LocalSrcPorts; l != nil {
			v.ports(path+".local_src_ports.ports", l.Ports, true)
			v.source(path+".local_src_ports.source", &l.Source)
		}
		v.locals(path, f)
		switch f.Necessity {
		case model.Required, model.Recommended, model.Optional:
		case "":
			v.errf(path+".necessity", "required field is missing; required, recommended or optional")
		default:
			v.errf(path+".necessity", "unknown necessity %q; required, recommended or optional", f.Necessity)
		}
		v.feature(path+".required_with", f.RequiredWith)
		if f.RequiredWith != "" && f.Necessity == model.Required {
			v.errf(path+".required_with", "the flow is required already; required_with says when a weaker flow becomes required")
		}
		v.feature(path+".feature", f.Feature)
		v.flowPlatforms(path+".platforms", f.Platforms)
		if v.required(path+".app", f.App) && !slugRE.MatchString(f.App) {
			v.errf(path+".app", "app %q must be lower-case letters, digits and hyphens (https, sip, rtp…)", f.App)
		}
		if f.OneOf && len(f.Ports) < 2 {
			v.errf(path+".one_of", "one_of needs at least two ports to choose from")
		}
		for j, fb := range f.Fallback {
			fp := fmt.Sprintf("%s.fallback[%d]", path, j)
			switch {
			case fb == f.ID:
				v.errf(fp, "a flow cannot fall back to itself")
			case v.svc.Flow(fb) == nil:
				v.errf(fp, "undefined flow %q", fb)
			}
		}
		switch f.Via {
		case "", "proxy":
		default:
			v.errf(path+".via", "unknown via %q; the only one is proxy", f.Via)
		}
		if f.Condition != nil {
			v.text(path+".condition", f.Condition)
		}
		v.text(path+".purpose", f.Purpose)
		v.source(path+".source", &f.Source)
		if f.Direction == model.Inbound && len(f.RemoteRoles) == 0 && !onlyLAN(v.svc, f.Remote) {
			if len(f.Local) > 1 {
				v.errf(path+".local", "an inbound flow from outside is forwarded to one machine; give it one local role, not %d", len(f.Local))
			}
			for _, name := range f.Local {
				if r := v.svc.Role(name); r != nil && r.AddressParam == "" {
					v.errf(path+".local", "an inbound flow from outside is forwarded to its local role, so role %q needs an address_param", name)
				}
			}
		}
	}
}

// locals checks a flow's local roles and its remote side: host sets, or
// roles of the site, not both.
func (v *validator) locals(path string, f *model.Flow) {
	if len(f.Local) == 0 {
		v.errf(path+".local", "required field is missing; the local role, or a list of them")
	}
	for j, name := range f.Local {
		lp := path + ".local"
		if len(f.Local) > 1 {
			lp = fmt.Sprintf("%s[%d]", lp, j)
		}
		switch {
		case strings.TrimSpace(name) == "":
			v.errf(lp, "required field is missing or empty")
		case v.svc.Role(name) == nil:
			v.errf(lp, "undefined role %q%s", name, v.known("role", roleNames))
		case slices.Index(f.Local, name) != j:
			v.errf(lp, "role %q listed twice", name)
		}
	}
	if len(f.Remote) > 0 && len(f.RemoteRoles) > 0 {
		v.errf(path+".remote_roles", "a flow goes to host sets (remote) or to roles of the site (remote_roles), not both; write two flows")
	}
	v.hostRefs(path+".remote", f.Remote, len(f.RemoteRoles) == 0)
	for j, name := range f.RemoteRoles {
		if v.svc.Role(name) == nil {
			v.errf(fmt.Sprintf("%s.remote_roles[%d]", path, j), "undefined role %q%s", name, v.known("role", roleNames))
		}
	}
}

// onlyLAN reports whether every entry of the named host sets is "lan".
func onlyLAN(svc *model.Service, sets []string) bool {
	for _, name := range sets {
		h := svc.HostSet(name)
		if h == nil {
			return false
		}
		for _, e := range h.Entries {
			if e != "lan" {
				return false
			}
		}
	}
	return len(sets) > 0
}

// ExpandedIDs returns the ids a flow has in expanded output, one per
// local role and protocol, in that order: its own id when it has one of
// each, "id-role" for each of several roles, "-proto" added for each of
// several protocols.
func ExpandedIDs(f *model.Flow) []string {
	locals := []string(f.Local)
	if len(locals) == 0 {
		locals = []string{""}
	}
	var out []string
	for _, l := range locals {
		id := f.ID
		if len(f.Local) > 1 {
			id += "-" + l
		}
		if len(f.Proto) <= 1 {
			out = append(out, id)
			continue
		}
		for _, p := range f.Proto {
			out = append(out, id+"-"+p)
		}
	}
	return out
}

func (v *validator) constraints() {
	seen := map[string]bool{}
	for i := range v.svc.Constraints {
		c := &v.svc.Constraints[i]
		path := fmt.Sprintf("constraints[%d]", i)
		if v.required(path+".id", c.ID) {
			if !slugRE.MatchString(c.ID) {
				v.errf(path+".id", "constraint id %q must be lower-case letters, digits and hyphens", c.ID)
			}
			if seen[c.ID] {
				v.errf(path+".id", "duplicate constraint id %q", c.ID)
			}
			if v.svc.Flow(c.ID) != nil {
				v.errf(path+".id", "constraint id %q is also a flow id", c.ID)
			}
			seen[c.ID] = true
		}
		v.feature(path+".feature", c.Feature)
		v.protos(path+".proto", c.Proto, false)
		v.ports(path+".ports", c.Ports, false)
		v.hostRefs(path+".hosts", c.Hosts, false)
		for j, id := range c.Flows {
			if v.svc.Flow(id) == nil {
				v.errf(fmt.Sprintf("%s.flows[%d]", path, j), "undefined flow %q", id)
			}
		}
		for _, d := range []struct {
			field string
			val   model.Duration
		}{{"min_timeout", c.MinTimeout}, {"keepalive", c.Keepalive}} {
			if d.val == "" {
				continue
			}
			if dd, err := time.ParseDuration(string(d.val)); err != nil || dd <= 0 {
				v.errf(path+"."+d.field, "%q is not a positive duration such as 90s or 2m", d.val)
			}
		}
		need := func(field string, ok bool) {
			if !ok {
				v.errf(path+"."+field, "a %s constraint needs %s", c.Kind, field)
			}
		}
		switch c.Kind {
		case model.KindALGOff:
			need("apps", len(c.Apps) > 0)
		case model.KindNATTimeout:
			need("proto", len(c.Proto) > 0)
			need("ports", len(c.Ports) > 0)
			need("min_timeout", c.MinTimeout != "")
		case model.KindTLSMin:
			need("ports", len(c.Ports) > 0)
			need("min_version", c.MinVersion != "")
			if c.MinVersion != "" && !slices.Contains(TLSVersions, c.MinVersion) {
				v.errf(path+".min_version", "unknown TLS version %q; one of %s", c.MinVersion, strings.Join(TLSVersions, ", "))
			}
		case model.KindSSLInspectionOff, model.KindAllowByName, model.KindViaProxy:
			need("hosts", len(c.Hosts) > 0)
		case model.KindProxyAuth:
			need("allowed", len(c.Allowed) > 0)
		case model.KindDynamicSrcPorts, model.KindPortPreservingNAT:
			need("proto", len(c.Proto) > 0)
			need("ports", len(c.Ports) > 0)
		case model.KindNoInbound, model.KindSetting, model.KindNotice:
		case "":
			v.errf(path+".kind", "required field is missing; one of %s", kindList())
		default:
			v.errf(path+".kind", "unknown constraint kind %q; one of %s", c.Kind, kindList())
		}
		v.text(path+".purpose", c.Purpose)
		v.source(path+".source", &c.Source)
	}
}

func dedupeStrings(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// knownType reports whether a param's type is valid, so that a bad type is
// reported once, where it is written, and not again where the param is used.
func knownType(p *model.Param) bool {
	switch p.Type {
	case model.ParamDNSLabel, model.ParamAddress, model.ParamPorts, model.ParamHosts, model.ParamText, model.ParamNumber:
		return true
	}
	return false
}

func kindList() string {
	s := make([]string, len(model.ConstraintKinds))
	for i, k := range model.ConstraintKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// known returns known(names(v.svc)), built once for each kind: a profile
// with thousands of bad references must not list its names each time.
func (v *validator) known(kind string, names func(*model.Service) []string) string {
	if s, ok := v.defined[kind]; ok {
		return s
	}
	if v.defined == nil {
		v.defined = map[string]string{}
	}
	v.defined[kind] = known(names(v.svc))
	return v.defined[kind]
}

// maxKnown is how many defined names an error lists.
const maxKnown = 20

func known(names []string) string {
	if len(names) == 0 {
		return " (the profile defines none)"
	}
	if len(names) > maxKnown {
		return fmt.Sprintf(" (defined: %s, … %d in all)", strings.Join(names[:maxKnown], ", "), len(names))
	}
	return " (defined: " + strings.Join(names, ", ") + ")"
}

func featureNames(s *model.Service) []string {
	var out []string
	for _, f := range s.Features {
		out = append(out, f.Name)
	}
	return out
}

func hostNames(s *model.Service) []string {
	var out []string
	for _, h := range s.Hosts {
		out = append(out, h.Name)
	}
	return out
}

func platformNames(s *model.Service) []string {
	var out []string
	for _, p := range s.Platforms {
		out = append(out, p.Name)
	}
	return out
}

func roleNames(s *model.Service) []string {
	var out []string
	for _, r := range s.Roles {
		out = append(out, r.Name)
	}
	return out
}
