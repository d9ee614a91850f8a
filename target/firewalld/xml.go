package firewalld

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/target"
)

// esc escapes s for XML text and attribute values, after making it one
// safe line.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(target.OneLine(s)))
	return b.String()
}

// xmlComment makes s fit inside <!-- -->: no "--", no trailing "-".
func xmlComment(s string) string {
	s = target.OneLine(s)
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "- -")
	}
	return strings.TrimRight(s, "-")
}

func family(fam int) string {
	if fam == 6 {
		return "ipv6"
	}
	return "ipv4"
}

func portText(r model.PortRange) string {
	if r.Lo == r.Hi {
		return fmt.Sprint(r.Lo)
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// XML is the service's file.
func (s *Service) XML() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n<service>\n")
	fmt.Fprintf(&b, "  <short>%s</short>\n  <description>%s</description>\n", esc(s.Short), esc(s.Description))
	for _, p := range s.Ports {
		fmt.Fprintf(&b, "  <port protocol=\"%s\" port=\"%s\"/>\n", s.Proto, portText(p))
	}
	b.WriteString("</service>\n")
	return b.String()
}

func inetFamily(fam int) string {
	if fam == 6 {
		return "inet6"
	}
	return "inet"
}

// XML is the ipset's file.
func (s *IPSet) XML() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n<ipset type=\"hash:net\">\n")
	fmt.Fprintf(&b, "  <short>portolan</short>\n  <description>%s</description>\n", esc(s.Description))
	fmt.Fprintf(&b, "  <option name=\"family\" value=\"%s\"/>\n", inetFamily(s.Family))
	for _, e := range s.Entries {
		fmt.Fprintf(&b, "  <entry>%s</entry>\n", e.Masked())
	}
	b.WriteString("</ipset>\n")
	return b.String()
}

func sideXML(elem string, s Side) string {
	switch {
	case s.IPSet != "":
		return fmt.Sprintf("    <%s ipset=\"%s\"/>\n", elem, s.IPSet)
	case s.Address.IsValid():
		return fmt.Sprintf("    <%s address=\"%s\"/>\n", elem, s.Address.Masked())
	}
	return ""
}

func sideText(elem string, s Side) string {
	switch {
	case s.IPSet != "":
		return fmt.Sprintf(" %s ipset=\"%s\"", elem, s.IPSet)
	case s.Address.IsValid():
		return fmt.Sprintf(" %s address=\"%s\"", elem, s.Address.Masked())
	}
	return ""
}

// Text is the rich rule in firewall-cmd's language.
func (r Rule) Text() string {
	s := fmt.Sprintf("rule family=\"%s\"", family(r.Family))
	s += sideText("source", r.Src) + sideText("destination", r.Dst)
	if r.ICMPType != "" {
		return s + fmt.Sprintf(" icmp-type name=\"%s\" accept", r.ICMPType)
	}
	if r.ToAddr.IsValid() {
		return s + fmt.Sprintf(" forward-port port=\"%s\" protocol=\"%s\" to-addr=\"%s\"", portText(r.Port), r.Proto, r.ToAddr)
	}
	return s + fmt.Sprintf(" service name=\"%s\" accept", r.Service)
}

// XML is the policy's file, with head (comment lines "# …") as a comment
// at its top.
func (p *Policy) XML(head string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	if head != "" {
		b.WriteString("<!--\n")
		for _, l := range strings.Split(strings.TrimRight(head, "\n"), "\n") {
			b.WriteString("  " + xmlComment(strings.TrimPrefix(strings.TrimPrefix(l, "#"), " ")) + "\n")
		}
		b.WriteString("-->\n")
	}
	fmt.Fprintf(&b, "<policy target=\"%s\">\n", p.Target)
	fmt.Fprintf(&b, "  <short>%s</short>\n  <description>%s</description>\n", esc(p.Short), esc(p.Description))
	for _, z := range p.Ingress {
		fmt.Fprintf(&b, "  <ingress-zone name=\"%s\"/>\n", z)
	}
	for _, z := range p.Egress {
		fmt.Fprintf(&b, "  <egress-zone name=\"%s\"/>\n", z)
	}
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "  <!-- %s -->\n", xmlComment(r.Comment))
		fmt.Fprintf(&b, "  <rule family=\"%s\">\n", family(r.Family))
		b.WriteString(sideXML("source", r.Src))
		b.WriteString(sideXML("destination", r.Dst))
		if r.ICMPType != "" {
			fmt.Fprintf(&b, "    <icmp-type name=\"%s\"/>\n    <accept/>\n", r.ICMPType)
		} else if r.ToAddr.IsValid() {
			fmt.Fprintf(&b, "    <forward-port port=\"%s\" protocol=\"%s\" to-addr=\"%s\"/>\n", portText(r.Port), r.Proto, r.ToAddr)
		} else {
			fmt.Fprintf(&b, "    <service name=\"%s\"/>\n    <accept/>\n", r.Service)
		}
		b.WriteString("  </rule>\n")
	}
	b.WriteString("</policy>\n")
	return b.String()
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Commands are the firewall-cmd --permanent commands that make the tree.
func (t *Tree) Commands() []string {
	const fc = "firewall-cmd --permanent"
	var out []string
	for _, s := range t.IPSets {
		out = append(out,
			fmt.Sprintf("%s --new-ipset=%s --type=hash:net --option=family=%s", fc, s.Name, inetFamily(s.Family)),
			fmt.Sprintf("%s --ipset=%s --set-short=portolan", fc, s.Name),
			fmt.Sprintf("%s --ipset=%s --set-description=%s", fc, s.Name, shq(target.OneLine(s.Description))))
		for _, e := range s.Entries {
			out = append(out, fmt.Sprintf("%s --ipset=%s --add-entry=%s", fc, s.Name, e.Masked()))
		}
	}
	for _, s := range t.Services {
		out = append(out,
			fmt.Sprintf("%s --new-service=%s", fc, s.Name),
			fmt.Sprintf("%s --service=%s --set-short=%s", fc, s.Name, shq(target.OneLine(s.Short))),
			fmt.Sprintf("%s --service=%s --set-description=%s", fc, s.Name, shq(target.OneLine(s.Description))))
		for _, p := range s.Ports {
			out = append(out, fmt.Sprintf("%s --service=%s --add-port=%s/%s", fc, s.Name, portText(p), s.Proto))
		}
	}
	for _, p := range t.Policies {
		out = append(out,
			fmt.Sprintf("%s --new-policy=%s", fc, p.Name),
			fmt.Sprintf("%s --policy=%s --set-short=%s", fc, p.Name, shq(target.OneLine(p.Short))),
			fmt.Sprintf("%s --policy=%s --set-description=%s", fc, p.Name, shq(target.OneLine(p.Description))),
			fmt.Sprintf("%s --policy=%s --set-target=%s", fc, p.Name, p.Target))
		for _, z := range p.Ingress {
			out = append(out, fmt.Sprintf("%s --policy=%s --add-ingress-zone=%s", fc, p.Name, z))
		}
		for _, z := range p.Egress {
			out = append(out, fmt.Sprintf("%s --policy=%s --add-egress-zone=%s", fc, p.Name, z))
		}
		for _, r := range p.Rules {
			out = append(out, "# "+target.OneLine(r.Comment))
			out = append(out, fmt.Sprintf("%s --policy=%s --add-rich-rule=%s", fc, p.Name, shq(r.Text())))
		}
	}
	return out
}
