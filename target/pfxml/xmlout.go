package pfxml

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

// Render builds the document for in and writes it: the XML declaration,
// a header comment (what made it, how to restore it, the constraints and
// notes), then the product's root element holding the aliases, the
// filter rules and the NAT rules.
func Render(p Product, in *target.Input, resolveNames bool) (string, target.Result, error) {
	doc, res, err := Build(p, in, resolveNames)
	if err != nil {
		return "", res, err
	}
	var b strings.Builder
	writeHeader(&b, header(p, in, doc, res.Notes, ""))
	doc.write(&b)
	return b.String(), res, nil
}

// Files are the names of the tree's files, by section.
var Files = map[string]string{SecAliases: "aliases.xml", SecFilter: "filter.xml", SecNAT: "nat.xml"}

// Tree builds the document for in as one file per restore area:
// aliases.xml, filter.xml and nat.xml. pfSense's are its area backups'
// shape (the section's element is the root); OPNsense's hold the section
// under <opnsense>, which its restore reads.
func Tree(p Product, in *target.Input, resolveNames bool) ([]target.File, target.Result, error) {
	doc, res, err := Build(p, in, resolveNames)
	if err != nil {
		return nil, res, err
	}
	var files []target.File
	for _, sec := range []string{SecAliases, SecFilter, SecNAT} {
		var b strings.Builder
		writeHeader(&b, header(p, in, doc, res.Notes, sec))
		if p == PfSense {
			doc.writeBare(&b, sec)
		} else {
			doc.write(&b, sec)
		}
		files = append(files, target.File{Path: Files[sec], Data: []byte(b.String())})
	}
	return files, res, nil
}

func writeHeader(b *strings.Builder, lines []string) {
	b.WriteString("<?xml version=\"1.0\"?>\n<!--\n")
	for _, l := range lines {
		b.WriteString("  " + commentSafe(l) + "\n")
	}
	b.WriteString("-->\n")
}

// commentSafe makes s fit inside an XML comment: one line, no "--".
func commentSafe(s string) string {
	s = target.OneLine(s)
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "- -")
	}
	return strings.TrimSuffix(s, "-")
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

type xw struct {
	b     *strings.Builder
	depth int
}

func (w *xw) ind() { w.b.WriteString(strings.Repeat("\t", w.depth)) }

func (w *xw) open(tag string) { w.ind(); w.b.WriteString("<" + tag + ">\n"); w.depth++ }

func (w *xw) close(tag string) { w.depth--; w.ind(); w.b.WriteString("</" + tag + ">\n") }

func (w *xw) elem(tag, val string) {
	w.ind()
	if val == "" {
		w.b.WriteString("<" + tag + "/>\n")
		return
	}
	w.b.WriteString("<" + tag + ">" + esc(val) + "</" + tag + ">\n")
}

func (w *xw) comment(lines []string) {
	if len(lines) == 0 {
		return
	}
	w.ind()
	if len(lines) == 1 {
		w.b.WriteString("<!-- " + commentSafe(lines[0]) + " -->\n")
		return
	}
	w.b.WriteString("<!--\n")
	for _, l := range lines {
		w.ind()
		w.b.WriteString("  " + commentSafe(l) + "\n")
	}
	w.ind()
	w.b.WriteString("-->\n")
}

func (w *xw) side(tag string, s Side) {
	w.open(tag)
	switch {
	case s.Any:
		w.elem("any", "")
	case s.Network != "":
		w.elem("network", s.Network)
	default:
		w.elem("address", s.Address)
	}
	if s.Not {
		w.elem("not", "")
	}
	if s.Port != "" {
		w.elem("port", s.Port)
	}
	w.close(tag)
}

// Sections of a document, as the products' restore areas name them.
const (
	SecAliases = "aliases"
	SecFilter  = "filter"
	SecNAT     = "nat"
)

// write writes the product's root element holding the sections (all
// when none is given).
func (d *Doc) write(b *strings.Builder, sections ...string) {
	w := &xw{b: b}
	w.open(d.Product.Root)
	w.sections(d, sections...)
	w.close(d.Product.Root)
}

// writeBare writes one section as pfSense's area backup does: the
// section's element is the root.
func (d *Doc) writeBare(b *strings.Builder, section string) {
	w := &xw{b: b}
	w.sections(d, section)
}

func (w *xw) sections(d *Doc, sections ...string) {
	on := func(s string) bool { return len(sections) == 0 || slices.Contains(sections, s) }
	if on(SecAliases) {
		w.aliases(d)
	}
	if on(SecFilter) {
		w.filter(d)
	}
	if on(SecNAT) {
		w.nat(d)
	}
}

func (w *xw) aliases(d *Doc) {
	b := w.b
	if d.Product == OPNsense {
		// OPNsense's alias model (models/OPNsense/Firewall/Alias.xml).
		w.open("OPNsense")
		w.open("Firewall")
		w.ind()
		b.WriteString("<Alias version=\"1.0.1\">\n")
		w.depth++
		w.open("geoip")
		w.elem("url", "")
		w.close("geoip")
		w.open("aliases")
		for _, a := range d.Aliases {
			w.ind()
			fmt.Fprintf(b, "<alias uuid=\"%s\">\n", UUID("alias "+a.Name))
			w.depth++
			w.elem("enabled", "1")
			w.elem("name", a.Name)
			w.elem("type", a.Type)
			w.elem("proto", "")
			w.elem("interface", "")
			w.elem("counters", "0")
			w.elem("updatefreq", "")
			w.elem("content", strings.Join(a.Entries, "\n"))
			w.elem("description", a.Descr)
			w.close("alias")
		}
		w.close("aliases")
		w.close("Alias")
		w.close("Firewall")
		w.close("OPNsense")
	} else {
		w.open("aliases")
		for _, a := range d.Aliases {
			w.open("alias")
			w.elem("name", a.Name)
			w.elem("type", a.Type)
			w.elem("address", strings.Join(a.Entries, " "))
			w.elem("descr", a.Descr)
			w.elem("detail", strings.Repeat("portolan||", max(len(a.Entries)-1, 0))+"portolan")
			w.close("alias")
		}
		w.close("aliases")
	}
}

func (w *xw) filter(d *Doc) {
	w.open("filter")
	for _, r := range d.Filter {
		w.comment(r.Comment)
		w.open("rule")
		w.elem("tracker", fmt.Sprint(r.Tracker))
		w.elem("type", r.Type)
		w.elem("interface", r.Interface)
		w.elem("ipprotocol", r.IPProtocol)
		w.elem("protocol", r.Protocol)
		w.side("source", r.Source)
		w.side("destination", r.Dest)
		w.elem("descr", r.Descr)
		if r.AssocID != "" {
			w.elem("associated-rule-id", r.AssocID)
		}
		w.close("rule")
	}
	w.close("filter")
}

func (w *xw) nat(d *Doc) {
	w.open("nat")
	if len(d.Outbound) > 0 {
		w.open("outbound")
		w.elem("mode", "hybrid")
		for _, r := range d.Outbound {
			w.comment(r.Comment)
			w.open("rule")
			w.open("source")
			w.elem("network", r.Source)
			w.close("source")
			w.elem("sourceport", "")
			w.elem("descr", r.Descr)
			w.elem("target", "")
			w.elem("interface", r.Interface)
			w.elem("poolopts", "")
			w.elem("ipprotocol", r.IPProtocol)
			w.elem("protocol", r.Protocol)
			w.open("destination")
			w.elem("any", "")
			w.close("destination")
			w.elem("dstport", r.DstPort)
			w.elem("staticnatport", "")
			w.close("rule")
		}
		w.close("outbound")
	}
	for _, r := range d.NAT {
		w.comment(r.Comment)
		w.open("rule")
		w.side("source", r.Source)
		w.side("destination", r.Dest)
		w.elem("ipprotocol", r.IPProtocol)
		w.elem("protocol", r.Protocol)
		w.elem("target", r.Target)
		w.elem("local-port", r.LocalPort)
		w.elem("interface", r.Interface)
		w.elem("descr", r.Descr)
		w.elem("associated-rule-id", r.AssocID)
		w.close("rule")
	}
	w.close("nat")
}

// header is the text of the header comment, one entry a line.
func header(p Product, in *target.Input, d *Doc, notes []string, section string) []string {
	var out []string
	add := func(s string) { out = append(out, target.Wrap("", s, 96)...) }
	for _, l := range in.Header(fmt.Sprintf("portolan rules for %s: aliases, filter rules and port forwards (config.xml sections)", p.Title)) {
		if strings.HasPrefix(l, "command: ") && strings.Contains(l, "--") {
			l = "command (an XML comment cannot hold two hyphens in a row: read each \"- -\" as two hyphens joined): " + strings.TrimPrefix(l, "command: ")
		}
		out = append(out, l)
	}
	out = append(out, "")
	lan, wan := ifName(in.Site.LANIf, DefaultLAN), ifName(in.Site.WANIf, DefaultWAN)
	add(fmt.Sprintf("Gateway: pass rules on interface %s for the flows the LAN starts; port forwards on %s (NAT rules, each with its linked pass rule on %s: pf filters a forwarded packet after redirection, to the forwarded address). Every rule is quick (first match), as %s's interface rules are; what no rule passes meets the default deny.", lan, wan, wan, p.Title))
	area := map[string]string{SecAliases: "Aliases", SecFilter: "Firewall Rules", SecNAT: "NAT"}
	switch {
	case p == PfSense && section == "":
		add("Restore: Diagnostics > Backup & Restore > Restore Backup. Choose Restore area \"Aliases\" and this file, Restore Configuration; again with area \"Firewall Rules\", then \"NAT\". pfSense takes the area's element from under <pfsense> (restore_config_section, src/etc/inc/pfsense-utils.inc); its documentation asks for a file of the area alone: with -o DIR portolan writes aliases.xml, filter.xml and nat.xml, one area each, in the shape of pfSense's own area backups. Back up the three areas first.")
	case p == PfSense:
		add(fmt.Sprintf("This file is the area %q (%s; the others are %s): restore it with Diagnostics > Backup & Restore > Restore Backup, Restore area %q, Restore Configuration. Restore aliases.xml first: the rules name its aliases. Back up the three areas first.", area[section], Files[section], otherFiles(section), area[section]))
	case section == "":
		add("Restore: System > Configuration > Backups > Restore. Select the restore areas \"Aliases\", \"Firewall Rules\" and \"NAT\" (together), choose this file, Restore configuration. Download a backup first.")
	default:
		add(fmt.Sprintf("This file holds the area %q (%s; the others are %s): restore it with System > Configuration > Backups > Restore, restore area %q; aliases.xml first. Download a backup first.", area[section], Files[section], otherFiles(section), area[section]))
	}
	if p == PfSense {
		add("A restore REPLACES the whole area: the aliases, filter rules (every interface, floating rules too) and NAT rules (port forwards and outbound NAT) of the box are those of the restored file afterwards. To keep rules of your own, add them to the file before restoring, or copy the rules below in the GUI instead. Restoring a rerun's output again gives the same alias names, trackers and associated-rule-ids: the area is replaced, nothing is duplicated.")
	} else {
		add("A restore REPLACES those areas: the aliases (OPNsense.Firewall.Alias), the legacy filter rules (<filter>) and NAT (port forwards, outbound NAT) are those of the restored file afterwards, and OPNsense also empties the areas' other parts the file does not hold: the rules of Firewall > Rules (new), OPNsense.Firewall.Filter.rules, and the new-style source NAT, NPTv6 and one-to-one rules. To keep rules of your own, add them to the file before restoring. Releases whose port forwards are a model (DNat, 26.1 and later) drop the associated-rule-id link: the linked pass rule on the WAN stays, as a rule of its own. The rules are legacy <filter> rules, which OPNsense still applies; releases without the legacy rules page list them in its rules migration assistant (ui/firewall/migration). Restoring a rerun's output again gives the same alias names, uuids and trackers: the areas are replaced, nothing is duplicated.")
	}
	add(fmt.Sprintf("Names: host aliases hold the host names as they are; %s resolves them itself and refreshes them (pfSense: System > Advanced > Firewall & NAT, Aliases Hostnames Resolve Interval; OPNsense: Firewall > Settings > Advanced, Alias Resolve Interval). --resolve-names writes the addresses resolved here instead.", p.Title))
	if len(d.NAT) > 0 && hasV6(d) {
		add("IPv6 port forwards: NAT rules with ipprotocol inet6 need pfSense 2.5.0 or later (its port forwards took an address family then: pfSense redmine #10984), or OPNsense 16.7 or later (opnsense/core issue 807).")
	}
	if len(in.Constraints) > 0 {
		out = append(out, "", "Constraints that are not ports, and what they mean for "+p.Title+":")
		for _, c := range in.Constraints {
			for _, l := range target.Wrap("  ", target.ConstraintRef(c)+": "+action(p, in, d, c), 96) {
				out = append(out, l)
			}
		}
	}
	if len(notes) > 0 {
		out = append(out, "", "Not in the rules, and why:")
		for _, n := range notes {
			out = append(out, target.Wrap("  ", n, 96)...)
		}
	}
	return out
}

func hasV6(d *Doc) bool {
	for _, r := range d.NAT {
		if r.IPProtocol == "inet6" {
			return true
		}
	}
	return false
}

// action says what constraint c means for the product.
func action(p Product, in *target.Input, d *Doc, c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		return fmt.Sprintf("%s — %s has no SIP or H.323 ALG in the base system: pf rewrites no payload. Only the siproxd package adds a SIP proxy: do not install it (or keep it disabled) for these flows.%s", c.Purpose, p.Title, staticPortNote(d))
	case model.KindNATTimeout:
		ts := UDPTimeouts([]resolve.Constraint{c})
		if len(ts) == 0 {
			return c.Purpose + target.Keepalive(c)
		}
		t := ts[0]
		if p == PfSense {
			return fmt.Sprintf("%s — System > Advanced > Firewall & NAT: Firewall Optimization Options \"Conservative\" (udp.first 300 s, udp.single 150 s, udp.multiple 900 s), or State Timeouts UDP First %d, UDP Single %d, UDP Multiple %d (config.xml system/udpfirsttimeout, udpsingletimeout, udpmultipletimeout; not written here: they belong to the System area, whose restore would replace the whole system section).%s%s", c.Purpose, t.First, t.Single, t.Multiple, target.Keepalive(c), staticPortNote(d))
		}
		return fmt.Sprintf("%s — Firewall > Settings > Advanced: Firewall Optimization \"conservative\" (udp.first 300 s, udp.single 150 s, udp.multiple 900 s: at least the %d/%d/%d s asked for); OPNsense has no per-protocol UDP timeout of its own (config.xml system/optimization, not written here: it belongs to the System area).%s%s", c.Purpose, t.First, t.Single, t.Multiple, target.Keepalive(c), staticPortNote(d))
	case model.KindPortPreservingNAT:
		return c.Purpose + " —" + staticPortNote(d)
	case model.KindSSLInspectionOff:
		return fmt.Sprintf("%s — %s does not inspect TLS in the base system: nothing to exempt. A proxy package that does (squid with SSL bump on pfSense, the web proxy on OPNsense) must splice %s.", c.Purpose, p.Title, target.Hosts(c))
	case model.KindAllowByName:
		return fmt.Sprintf("%s — the host aliases hold the names; %s resolves them.", c.Purpose, p.Title)
	}
	return target.ConstraintAction(c, p.Title)
}

func staticPortNote(d *Doc) string {
	if len(d.Outbound) == 0 {
		return ""
	}
	rules := fmt.Sprintf("%d outbound NAT rules", len(d.Outbound))
	if len(d.Outbound) == 1 {
		rules = "an outbound NAT rule"
	}
	return fmt.Sprintf(" The NAT area below holds %s with static-port (mode hybrid: the automatic rules stay): the SIP flows from the LAN keep their source port when pf translates their address.", rules)
}

func otherFiles(section string) string {
	var out []string
	for _, s := range []string{SecAliases, SecFilter, SecNAT} {
		if s != section {
			out = append(out, Files[s])
		}
	}
	return strings.Join(out, " and ")
}
