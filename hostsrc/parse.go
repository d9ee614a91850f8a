// Package hostsrc fetches the address lists vendors publish for their
// services — a plain list of CIDR blocks such as Zoom's, or the Microsoft
// 365 endpoints web service's JSON — that feed a profile's host sets. A
// list comes by URL (bounded in time and size, cached with its version
// and date; the last good copy is used when a fetch fails) or from a local
// file.
package hostsrc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/portolan/portolan/internal/textsafe"
)

// ParseCIDRList reads a plain address list: one IPv4 or IPv6 address or
// CIDR block a line; "#" starts a comment; blank lines and surrounding
// spaces are ignored. name is what errors call the list; they give the
// line. The prefixes come back sorted, without duplicates.
func ParseCIDRList(name string, data []byte) ([]netip.Prefix, error) {
	name = textsafe.Terminal(name)
	var out []netip.Prefix
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		p, err := parsePrefix(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return sortPrefixes(out), nil
}

// parsePrefix reads an address or a block as a firewall can hold it: no
// zone, no host bits, no IPv4-mapped IPv6 form.
func parsePrefix(s string) (netip.Prefix, error) {
	show := textsafe.Terminal(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			return p, fmt.Errorf("%q is not an address or CIDR block", show)
		case p.Masked() != p:
			return p, fmt.Errorf("%q has host bits set (the block is %s)", show, p.Masked())
		case p.Addr().Is4In6():
			return p, fmt.Errorf("%q is IPv4-mapped IPv6; write it as IPv4", show)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR block", show)
	case a.Zone() != "":
		return netip.Prefix{}, fmt.Errorf("%q has a zone", show)
	case a.Is4In6():
		return netip.Prefix{}, fmt.Errorf("%q is IPv4-mapped IPv6; write it as IPv4", show)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func sortPrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(ps)
}

// M365Set is one endpoint set of the Microsoft 365 IP address and URL web
// service, as documented at
// https://learn.microsoft.com/en-us/microsoft-365/enterprise/microsoft-365-ip-web-service
// ("endpoints web method": id, serviceArea, serviceAreaDisplayName, urls,
// ips, tcpPorts, udpPorts, expressRoute, category, required, notes).
type M365Set struct {
	ID              int      `json:"id"`
	ServiceArea     string   `json:"serviceArea"`
	ServiceAreaName string   `json:"serviceAreaDisplayName"`
	URLs            []string `json:"urls"`
	IPs             []string `json:"ips"`
	TCPPorts        string   `json:"tcpPorts"`
	UDPPorts        string   `json:"udpPorts"`
	ExpressRoute    bool     `json:"expressRoute"`
	Category        string   `json:"category"`
	Required        bool     `json:"required"`
	Notes           string   `json:"notes"`
}

// ParseM365 reads the endpoints web method's JSON: an array of endpoint
// sets. name is what errors call the list.
func ParseM365(name string, data []byte) ([]M365Set, error) {
	var sets []M365Set
	if err := json.Unmarshal(data, &sets); err != nil {
		return nil, fmt.Errorf("%s: not the endpoints web service's JSON (an array of endpoint sets): %v", textsafe.Terminal(name), err)
	}
	return sets, nil
}

// M365Filter chooses endpoint sets: by service area (Exchange,
// SharePoint, Skype, Common; any when empty, case ignored), required sets
// only, and categories (Optimize, Allow, Default; any when empty).
type M365Filter struct {
	ServiceArea  string
	RequiredOnly bool
	Category     []string
}

// Takes reports whether the filter keeps s.
func (f M365Filter) Takes(s M365Set) bool {
	if f.ServiceArea != "" && !strings.EqualFold(s.ServiceArea, f.ServiceArea) {
		return false
	}
	if f.RequiredOnly && !s.Required {
		return false
	}
	return len(f.Category) == 0 || slices.ContainsFunc(f.Category, func(c string) bool { return strings.EqualFold(c, s.Category) })
}

// M365Prefixes returns the address blocks ("ips") of the endpoint sets
// the filter keeps, sorted, without duplicates. URLs are names, which an
// address set cannot hold: a profile lists them as entries of their own.
// A block that is not one is an error naming the set's id; a filter that
// keeps no address is an error too (an empty list must not empty a set).
func M365Prefixes(name string, sets []M365Set, f M365Filter) ([]netip.Prefix, error) {
	name = textsafe.Terminal(name)
	var out []netip.Prefix
	kept := 0
	for _, s := range sets {
		if !f.Takes(s) {
			continue
		}
		kept++
		for _, ip := range s.IPs {
			p, err := parsePrefix(strings.TrimSpace(ip))
			if err != nil {
				return nil, fmt.Errorf("%s: endpoint set %d: %v", name, s.ID, err)
			}
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		what := "no endpoint set"
		if kept > 0 {
			what = fmt.Sprintf("%d endpoint sets but no address block", kept)
		}
		return nil, fmt.Errorf("%s: %s for service area %q, required only %v, categories %v", name, what, f.ServiceArea, f.RequiredOnly, f.Category)
	}
	return sortPrefixes(out), nil
}

// M365Version reads the version web method's answer: {"instance":
// "Worldwide", "latest": "2024053100"}, or a list of such objects.
func M365Version(data []byte) (string, error) {
	var one struct {
		Latest string `json:"latest"`
	}
	if err := json.Unmarshal(data, &one); err == nil && one.Latest != "" {
		return one.Latest, nil
	}
	var many []struct {
		Latest string `json:"latest"`
	}
	if err := json.Unmarshal(data, &many); err == nil && len(many) > 0 && many[0].Latest != "" {
		return many[0].Latest, nil
	}
	return "", errors.New("not the version web method's JSON")
}
