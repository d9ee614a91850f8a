package model

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/portolan/portolan/internal/lazyre"
)

// EntryKind classifies a host-set entry.
type EntryKind int

// Entry kinds.
const (
	EntryName     EntryKind = iota // an FQDN: config.starleaf.com
	EntryWildcard                  // a domain and all names below it: *.librestream.com
	EntryTemplate                  // a name with params still in it: {company}.call.sl
	EntryAddr                      // one IPv4 or IPv6 address
	EntryPrefix                    // a CIDR block
	EntryAny                       // any address
	EntryLAN                       // the site's own networks
	EntryGlob                      // a host-name pattern: router*.vendor.com (glob.go)
)

var entryKindNames = [...]string{"name", "wildcard", "template", "address", "prefix", "any", "lan", "glob"}

func (k EntryKind) String() string {
	if int(k) < len(entryKindNames) {
		return entryKindNames[k]
	}
	return fmt.Sprintf("EntryKind(%d)", int(k))
}

// Entry is one parsed host-set entry.
type Entry struct {
	Kind EntryKind
	Raw  string
	// Prefix holds the address (as a /32 or /128) or the block.
	Prefix netip.Prefix
	// Domain is the name, or for a wildcard the domain under "*.".
	Domain string
}

// IsAddress reports whether the entry is an address or a prefix.
func (e Entry) IsAddress() bool { return e.Kind == EntryAddr || e.Kind == EntryPrefix }

var (
	labelRE    = lazyre.New(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	templateRE = lazyre.New(`\{([a-z][a-z0-9_]*)\}`)
	paramRE    = lazyre.New(`^[a-z][a-z0-9_]*$`)
)

// ParseEntry classifies a host-set entry and checks its syntax.
func ParseEntry(s string) (Entry, error) {
	e := Entry{Raw: s}
	switch {
	case s == "":
		return e, fmt.Errorf("empty host entry")
	case s == "any":
		e.Kind = EntryAny
		return e, nil
	case s == "lan":
		e.Kind = EntryLAN
		return e, nil
	case strings.ContainsAny(s, "{}"):
		if err := checkTemplate(s); err != nil {
			return e, err
		}
		e.Kind = EntryTemplate
		return e, nil
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return e, fmt.Errorf("bad CIDR %q: %v", s, trimNetipErr(err))
		}
		if p.Masked() != p {
			return e, fmt.Errorf("CIDR %q has host bits set (the block is %s)", s, p.Masked())
		}
		if u := UnmapPrefix(p); u != p {
			return e, fmt.Errorf("CIDR %q is IPv4-mapped IPv6, which no IPv6 packet carries; write it as IPv4: %s", s, u)
		}
		e.Kind, e.Prefix = EntryPrefix, p
		return e, nil
	case strings.Contains(s, ":") || looksNumeric(s):
		a, err := ParseAddr(s)
		if err != nil {
			return e, err
		}
		e.Kind, e.Prefix = EntryAddr, netip.PrefixFrom(a, a.BitLen())
		return e, nil
	case strings.HasPrefix(s, "*.") && !strings.Contains(s[2:], "*"):
		if err := checkName(s[2:]); err != nil {
			return e, fmt.Errorf("bad wildcard domain %q: %v", s, err)
		}
		e.Kind, e.Domain = EntryWildcard, s[2:]
		return e, nil
	case strings.Contains(s, "*"):
		return parseGlob(e)
	}
	if err := checkName(s); err != nil {
		return e, fmt.Errorf("bad host name %q: %v", s, err)
	}
	e.Kind, e.Domain = EntryName, s
	return e, nil
}

// ParseAddr parses one IPv4 or IPv6 address as a profile or a param holds
// it: no zone, and not in the IPv4-mapped IPv6 form (::ffff:192.0.2.1),
// which names an IPv4 host that no IPv6 packet carries, so that a rule for
// it would never match.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return a, fmt.Errorf("bad address %q: %v", s, trimNetipErr(err))
	case a.Zone() != "":
		return a, fmt.Errorf("address %q has a zone; zones are local to one machine", s)
	case a.Is4In6():
		return a, fmt.Errorf("address %q is IPv4-mapped IPv6, which no IPv6 packet carries; write it as IPv4: %s", s, a.Unmap())
	}
	return a, nil
}

// UnmapPrefix returns an IPv4-mapped IPv6 block in its IPv4 form
// (::ffff:192.0.2.0/120 is 192.0.2.0/24, ::ffff:192.0.2.1/128 is
// 192.0.2.1/32) and any other prefix as it is. A block wider than /96 is
// IPv6 proper, mapped part and all.
func UnmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() || !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
}

// looksNumeric reports whether s is digits and dots only, as an IPv4 address
// (valid or not) is: "300.1.2.3" must fail as an address, not pass as a name.
func looksNumeric(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

func trimNetipErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

// checkName checks a DNS name: lower-case labels of letters, digits and
// hyphens, at least two labels, no trailing dot.
func checkName(s string) error {
	if len(s) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return fmt.Errorf("not a fully qualified name")
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			if strings.ToLower(l) != l {
				return fmt.Errorf("label %q is not lower-case", l)
			}
			return fmt.Errorf("label %q is not a DNS label", l)
		}
	}
	return nil
}

// checkTemplate checks that every brace pair names a param and that the
// rest, with the params replaced by a sample label, is a valid entry.
func checkTemplate(s string) error {
	rest := templateRE.ReplaceAllString(s, "x")
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("bad template %q: braces must enclose a param name like {company}", s)
	}
	if templateRE.FindString(s) == s {
		return nil // a whole-entry param: {service_network}
	}
	if err := checkName(strings.TrimPrefix(rest, "*.")); err != nil {
		return fmt.Errorf("bad templated name %q: %v", s, err)
	}
	return nil
}

// TemplateParams returns the param names a string refers to, in order.
func TemplateParams(s string) []string {
	var out []string
	for _, m := range templateRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// IsWholeParam reports whether s is exactly one "{param}" and returns its name.
func IsWholeParam(s string) (string, bool) {
	m := templateRE.FindStringSubmatch(s)
	if m != nil && m[0] == s {
		return m[1], true
	}
	return "", false
}

// Substitute replaces every "{name}" in s by lookup(name). It returns the
// names lookup did not know, leaving those placeholders in place.
func Substitute(s string, lookup func(string) (string, bool)) (string, []string) {
	var missing []string
	out := templateRE.ReplaceAllStringFunc(s, func(m string) string {
		name := m[1 : len(m)-1]
		if v, ok := lookup(name); ok {
			return v
		}
		missing = append(missing, name)
		return m
	})
	return out, missing
}

// ValidLabel reports whether s is one lower-case DNS label.
func ValidLabel(s string) bool { return labelRE.MatchString(s) }

// ValidParamName reports whether s can name a param.
func ValidParamName(s string) bool { return paramRE.MatchString(s) }
