// Package report renders portolan's results for people (tables) and for
// programs (JSON, YAML).
package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

// ServiceView is what `portolan show` prints of one service.
type ServiceView struct {
	Choice      *resolve.Choice
	Flows       []resolve.Flow
	Constraints []resolve.Constraint
}

// ShowTable writes the services' flows for a firewall administrator:
// grouped by feature, necessity spelled out, fallbacks and constraints in
// words, each row with the document line it comes from.
func ShowTable(w io.Writer, views []ServiceView) error {
	for i, v := range views {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := showOne(w, v); err != nil {
			return err
		}
	}
	return nil
}

func showOne(w io.Writer, v ServiceView) error {
	c := v.Choice
	svc := c.Service
	in := svc.Info
	title := in.Name
	if in.Title != "" {
		title += " — " + in.Title
	}
	fmt.Fprintf(w, "%s (%s)\n", title, in.Slug)
	fmt.Fprintf(w, "  vendor    %s\n", in.Vendor)
	doc := in.Document + " (" + in.Language + ")"
	if in.Revision != "" {
		doc += ", " + in.Revision
	}
	fmt.Fprintf(w, "  document  %s\n", doc)
	if len(svc.Params) > 0 {
		fmt.Fprintf(w, "  params    %s\n", paramLine(c))
	}
	if len(svc.Features) > 0 {
		fmt.Fprintf(w, "  features  %s\n", featureLine(c))
	}
	if len(svc.Platforms) > 0 {
		fmt.Fprintf(w, "  platforms %s\n", platformLine(c))
	}

	groups := groupByFeature(v.Flows, svc)
	for _, g := range groups {
		fmt.Fprintln(w)
		if g.feature == "" {
			fmt.Fprintln(w, "  Flows")
		} else {
			desc := ""
			if f := svc.Feature(g.feature); f != nil {
				desc = ": " + f.Description
			}
			fmt.Fprintf(w, "  Feature %s%s\n", g.feature, desc)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    ID\tDIR\tPROTO\tPORTS\tLOCAL\tREMOTE\tNEED\tAPP\tSRC\tPURPOSE")
		for _, f := range g.flows {
			writeFlow(tw, f, fedSets(svc, f))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, f := range g.flows {
			for _, line := range flowNotes(v.Flows, f) {
				fmt.Fprintf(w, "    %s: %s\n", f.ID, line)
			}
		}
	}
	if len(v.Flows) == 0 {
		fmt.Fprintln(w, "\n  No flows with the features chosen.")
	}
	writeHostSets(w, v)
	if len(v.Constraints) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "  Constraints (not ports, but they break calls all the same)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range v.Constraints {
			fmt.Fprintf(tw, "    ! %s\t%s\n", k.ID, ConstraintSummary(k))
			fmt.Fprintf(tw, "      \t%s\n", sourceRef(k.Source))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if off := c.DisabledFeatures(); len(off) > 0 {
		fmt.Fprintf(w, "\n  Not shown, features off: %s (turn on with --feature NAME or --all-features)\n", strings.Join(off, ", "))
	}
	return nil
}

func paramLine(c *resolve.Choice) string {
	var parts []string
	for _, p := range c.Service.Params {
		val, ok := c.Params[p.Name]
		switch {
		case c.Set[p.Name]:
			parts = append(parts, fmt.Sprintf("%s=%s", p.Name, val))
		case ok:
			parts = append(parts, fmt.Sprintf("%s=%s (default)", p.Name, val))
		default:
			parts = append(parts, fmt.Sprintf("%s not set (shown as {%s}; --param %s=VALUE)", p.Name, p.Name, p.Name))
		}
	}
	return strings.Join(parts, "\n            ")
}

func platformLine(c *resolve.Choice) string {
	var names []string
	for _, p := range c.Service.Platforms {
		names = append(names, p.Name)
	}
	if len(c.Platforms) == 0 {
		return strings.Join(names, ", ") + " (flows of every platform; --platform NAME to choose)"
	}
	return strings.Join(c.Platforms, ", ") + " chosen, of " + strings.Join(names, ", ")
}

func featureLine(c *resolve.Choice) string {
	var parts []string
	for _, f := range c.Service.Features {
		state := "off"
		if c.Features[f.Name] {
			state = "on"
		}
		parts = append(parts, f.Name+" "+state)
	}
	return strings.Join(parts, ", ")
}

type group struct {
	feature string
	flows   []resolve.Flow
}

// groupByFeature groups flows by feature: the flows of no feature first,
// then each feature's in the order the profile lists its features.
func groupByFeature(flows []resolve.Flow, svc *model.Service) []group {
	byFeature := map[string][]resolve.Flow{}
	for _, f := range flows {
		byFeature[f.Feature] = append(byFeature[f.Feature], f)
	}
	var gs []group
	names := []string{""}
	for _, f := range svc.Features {
		names = append(names, f.Name)
	}
	for _, name := range names {
		if fs := byFeature[name]; len(fs) > 0 {
			gs = append(gs, group{feature: name, flows: fs})
		}
	}
	return gs
}

func dirShort(d model.Direction) string {
	if d == model.Inbound {
		return "in"
	}
	return "out"
}

// Ports writes a flow's ports; a one-of group as "24704|3478|…".
func Ports(f resolve.Flow) string {
	if f.OneOf {
		return strings.Join(f.Ports, "|")
	}
	return strings.Join(f.Ports, ",")
}

func need(f resolve.Flow) string {
	s := string(f.Necessity)
	if f.RequiredWith != "" && f.Necessity != model.Required {
		s += "*"
	}
	return s
}

// maxInline is how many remote entries a row shows before it names the
// host sets instead, listed whole under "Host sets".
const maxInline = 3

// fedSets reports whether a flow reaches a host set fed by a published
// list, whose addresses only rules and sync fetch: show names the set.
func fedSets(svc *model.Service, f resolve.Flow) bool {
	for _, name := range f.RemoteSets {
		if h := svc.HostSet(name); h != nil && h.Feed != nil {
			return true
		}
	}
	return false
}

func writeFlow(tw io.Writer, f resolve.Flow, fed bool) {
	dest := f.Dest
	if len(dest) > maxInline || fed {
		dest = nil
		for _, s := range f.RemoteSets {
			dest = append(dest, "<"+s+">")
		}
	}
	if len(f.RemoteRoles) > 0 {
		dest = nil
		for _, r := range f.RemoteRoles {
			dest = append(dest, r+" (role)")
		}
	}
	if len(dest) == 0 {
		dest = []string{"-"}
	}
	src := ""
	if f.Source.Line > 0 {
		src = fmt.Sprintf("L%d", f.Source.Line)
	}
	local := f.Local
	if f.LocalAddress != "" {
		local += " " + f.LocalAddress
	}
	fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		f.ID, dirShort(f.Direction), f.Proto, Ports(f), local, dest[0], need(f), f.App, src, f.Purpose)
	for _, d := range dest[1:] {
		fmt.Fprintf(tw, "    \t\t\t\t\t%s\t\t\t\t\n", d)
	}
}

// flowNotes spells out what a row cannot: one-of order, fallbacks,
// conditions, the proxy, source ports, params still missing.
func flowNotes(all []resolve.Flow, f resolve.Flow) []string {
	var out []string
	if f.OneOf {
		out = append(out, fmt.Sprintf("one of %s is enough, preferred in this order", strings.Join(f.Ports, ", ")))
	}
	if len(f.Fallback) > 0 {
		var fb []string
		for _, id := range f.Fallback {
			fb = append(fb, describeFallback(all, id))
		}
		lead := "when it fails"
		if f.OneOf {
			lead = "when none works"
		}
		out = append(out, lead+", clients fall back to "+strings.Join(fb, ", then "))
	}
	if f.RequiredWith != "" && f.Necessity != model.Required {
		out = append(out, fmt.Sprintf("* required when feature %s is on", f.RequiredWith))
	}
	if f.Condition != "" {
		out = append(out, "when: "+f.Condition)
	}
	if len(f.RemoteRoles) > 0 {
		from, to := f.Local, fmt.Sprintf("%s (%s)", strings.Join(f.RemoteRoles, ", "), strings.Join(f.Dest, ", "))
		if f.Direction == model.Inbound {
			from, to = to, from // started by the remote role
		}
		out = append(out, fmt.Sprintf("between roles of the site, %s to %s: inside the site, not through the gateway", from, to))
	}
	for _, d := range f.Dest {
		if e, err := model.ParseEntry(d); err == nil && e.Kind == model.EntryGlob {
			out = append(out, fmt.Sprintf("%s is a host-name pattern: proxies and name lists allow it widened to %s; packet filters, which see no names, leave it out", d, e.Widened()))
		}
	}
	if f.Platforms != nil {
		out = append(out, "used by "+f.Platforms.String()+" clients")
	}
	if f.Via == "proxy" {
		out = append(out, "through the site's web proxy")
	}
	if len(f.SrcPorts) > 0 {
		out = append(out, "from source ports "+strings.Join(f.SrcPorts, ","))
	}
	if l := f.LocalSrcPorts; l != nil {
		out = append(out, fmt.Sprintf("the %s usually sends from ports %s; rules do not match on them %s", f.Local, strings.Join(l.Ports, ","), sourceRef(l.Source)))
	}
	if f.Note != "" {
		out = append(out, "note: "+f.Note)
	}
	return out
}

func describeFallback(all []resolve.Flow, id string) string {
	var parts []string
	for _, g := range all {
		if g.Flow == id {
			parts = append(parts, g.Proto+" "+Ports(g))
		}
	}
	if len(parts) == 0 {
		return id
	}
	return fmt.Sprintf("%s (%s)", id, strings.Join(parts, ", "))
}

func sourceRef(s model.Source) string {
	ref := s.Document
	if s.Line > 0 {
		ref += fmt.Sprintf(" line %d", s.Line)
	}
	return fmt.Sprintf("[%s: \u201c%s\u201d]", ref, s.Quote)
}

// ConstraintSummary says in one line what a constraint asks.
func ConstraintSummary(k resolve.Constraint) string {
	var head string
	switch k.Kind {
	case model.KindALGOff:
		head = fmt.Sprintf("turn the %s ALG off", strings.ToUpper(strings.Join(k.Apps, "/")))
	case model.KindNATTimeout:
		head = fmt.Sprintf("UDP bindings on %s %s must live ≥ %s", strings.Join(k.Proto, "/"), strings.Join(k.Ports, ","), k.MinTimeout)
		if k.Keepalive != "" {
			head += fmt.Sprintf(" (keep-alives every %s)", k.Keepalive)
		}
	case model.KindTLSMin:
		head = fmt.Sprintf("TLS ≥ %s on ports %s", k.MinVersion, strings.Join(k.Ports, ","))
	case model.KindSSLInspectionOff:
		head = "no SSL inspection for " + strings.Join(k.Hosts, ", ")
	case model.KindProxyAuth:
		head = "proxy authentication: " + strings.Join(k.Allowed, ", ") + " only"
		if len(k.Refused) > 0 {
			head += " (not " + strings.Join(k.Refused, ", ") + ")"
		}
	case model.KindAllowByName:
		head = "allow by DNS name, not address: " + strings.Join(k.Hosts, ", ")
	case model.KindNoInbound:
		head = "nothing inbound to open"
	case model.KindViaProxy:
		head = "through the web proxy: " + strings.Join(k.Hosts, ", ")
	case model.KindDynamicSrcPorts:
		head = fmt.Sprintf("source ports vary (%s %s and others): never filter on source port", strings.Join(k.Proto, "/"), strings.Join(k.Ports, ","))
	case model.KindPortPreservingNAT:
		head = fmt.Sprintf("NAT must keep source ports %s %s unchanged (static port mapping)", strings.Join(k.Proto, "/"), strings.Join(k.Ports, ","))
		if len(k.Hosts) > 0 {
			head += " towards " + strings.Join(k.Hosts, ", ")
		}
	case model.KindSetting:
		head = "setting"
	case model.KindNotice:
		head = "notice"
	default:
		head = string(k.Kind)
	}
	return head + " — " + k.Purpose
}

// writeHostSets lists the host sets that rows name instead of their entries.
func writeHostSets(w io.Writer, v ServiceView) {
	var names []string
	seen := map[string]bool{}
	for _, f := range v.Flows {
		if len(f.Dest) <= maxInline && !fedSets(v.Choice.Service, f) {
			continue
		}
		for _, s := range f.RemoteSets {
			if !seen[s] {
				seen[s] = true
				names = append(names, s)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  Host sets")
	for _, name := range names {
		h := v.Choice.Service.HostSet(name)
		if h == nil {
			continue
		}
		var entries []string
		for _, e := range h.Entries {
			if p, ok := model.IsWholeParam(e); ok {
				if val, set := v.Choice.Params[p]; set {
					e = val
				}
			}
			entries = append(entries, e)
		}
		if f := h.Feed; f != nil {
			feed := "feed: " + f.Format + " list " + f.Origin()
			if f.Format == model.FeedM365 {
				feed += fmt.Sprintf(" (service area %s, required only %v, categories %s)", or(f.ServiceArea, "all"), f.RequiredOnly, or(strings.Join(f.Category, ", "), "all"))
			}
			entries = append(entries, feed+"; rules and sync fetch it")
		}
		fmt.Fprintf(w, "    <%s> %s\n      %s\n", name, strings.TrimSuffix(h.Description, "."), strings.Join(entries, ", "))
	}
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}
