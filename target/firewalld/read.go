package firewalld

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/model"
)

// DefaultConfig is where firewalld keeps its stock services, zones and
// policies; a configuration directory's files of the same name replace
// them.
const DefaultConfig = "/usr/lib/firewalld"

// FileLimit is the largest file Read takes.
const FileLimit = 16 << 20

// XPort is a <port>, <source-port> or a rule's <port>.
type XPort struct {
	Port     string `xml:"port,attr"`
	Protocol string `xml:"protocol,attr"`
}

// XName is an element with a name attribute (<service name=…>).
type XName struct {
	Name string `xml:"name,attr"`
}

// XValue is an element with a value attribute (<protocol value=…>).
type XValue struct {
	Value string `xml:"value,attr"`
}

// XForwardPort is a <forward-port>.
type XForwardPort struct {
	Port     string `xml:"port,attr"`
	Protocol string `xml:"protocol,attr"`
	ToPort   string `xml:"to-port,attr"`
	ToAddr   string `xml:"to-addr,attr"`
}

// XAddr is a rule's <source> or <destination>, or a zone's <source>.
type XAddr struct {
	Address string `xml:"address,attr"`
	MAC     string `xml:"mac,attr"`
	IPSet   string `xml:"ipset,attr"`
	Invert  string `xml:"invert,attr"`
}

// XRule is a rich rule.
type XRule struct {
	Family      string        `xml:"family,attr"`
	Priority    string        `xml:"priority,attr"`
	Source      *XAddr        `xml:"source"`
	Destination *XAddr        `xml:"destination"`
	Service     *XName        `xml:"service"`
	Port        *XPort        `xml:"port"`
	Protocol    *XValue       `xml:"protocol"`
	SourcePort  *XPort        `xml:"source-port"`
	ForwardPort *XForwardPort `xml:"forward-port"`
	ICMPBlock   *XName        `xml:"icmp-block"`
	ICMPType    *XName        `xml:"icmp-type"`
	Masquerade  *struct{}     `xml:"masquerade"`
	Accept      *struct{}     `xml:"accept"`
	Reject      *struct{}     `xml:"reject"`
	Drop        *struct{}     `xml:"drop"`
	Mark        *struct{}     `xml:"mark"`
}

// Action is the rule's verdict: accept, reject, drop, mark or "".
func (r *XRule) Action() string {
	switch {
	case r.Accept != nil:
		return "accept"
	case r.Reject != nil:
		return "reject"
	case r.Drop != nil:
		return "drop"
	case r.Mark != nil:
		return "mark"
	}
	return ""
}

// XService is a services/*.xml file.
type XService struct {
	Name        string
	File        string
	Short       string   `xml:"short"`
	Description string   `xml:"description"`
	Ports       []XPort  `xml:"port"`
	Protocols   []XValue `xml:"protocol"`
	SourcePorts []XPort  `xml:"source-port"`
	Helpers     []XName  `xml:"helper"`
	Modules     []XName  `xml:"module"`
	Includes    []struct {
		Service string `xml:"service,attr"`
	} `xml:"include"`
	Destination *struct {
		IPv4 string `xml:"ipv4,attr"`
		IPv6 string `xml:"ipv6,attr"`
	} `xml:"destination"`
}

// XIPSet is an ipsets/*.xml file.
type XIPSet struct {
	Name    string
	File    string
	Type    string `xml:"type,attr"`
	Options []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"option"`
	Entries []string `xml:"entry"`
}

// Family is the ipset's family: 6 for inet6, else 4.
func (s *XIPSet) Family() int {
	for _, o := range s.Options {
		if o.Name == "family" && o.Value == "inet6" {
			return 6
		}
	}
	return 4
}

// Prefixes are the ipset's entries as prefixes; an entry that is not an
// address or prefix (hash:mac, ranges) is an error naming it.
func (s *XIPSet) Prefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range s.Entries {
		e = strings.TrimSpace(e)
		p, err := ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %q: %v", s.File, e, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePrefix reads an address or prefix as firewalld writes them.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// XPolicy is a policies/*.xml file; XZone a zones/*.xml file. They share
// what they can hold.
type XPolicy struct {
	Name         string
	File         string
	Target       string         `xml:"target,attr"`
	Priority     string         `xml:"priority,attr"`
	IngressZones []XName        `xml:"ingress-zone"`
	EgressZones  []XName        `xml:"egress-zone"`
	Interfaces   []XName        `xml:"interface"`
	Sources      []XAddr        `xml:"source"`
	Services     []XName        `xml:"service"`
	Ports        []XPort        `xml:"port"`
	Protocols    []XValue       `xml:"protocol"`
	SourcePorts  []XPort        `xml:"source-port"`
	ForwardPorts []XForwardPort `xml:"forward-port"`
	Masquerade   *struct{}      `xml:"masquerade"`
	Forward      *struct{}      `xml:"forward"`
	Rules        []XRule        `xml:"rule"`
}

// XZone is a zones/*.xml file.
type XZone = XPolicy

// Config is a firewalld configuration: the stock objects with the
// directory's own over them.
type Config struct {
	Services map[string]*XService
	IPSets   map[string]*XIPSet
	Zones    map[string]*XZone
	Policies map[string]*XPolicy
	// DefaultZone is firewalld.conf's DefaultZone, or "public".
	DefaultZone string
}

// Read reads the configuration directory dir over the stock one in
// defaults ("" for none): services/, ipsets/, zones/ and policies/.
func Read(dir, defaults string) (*Config, error) {
	c := &Config{Services: map[string]*XService{}, IPSets: map[string]*XIPSet{}, Zones: map[string]*XZone{}, Policies: map[string]*XPolicy{}, DefaultZone: "public"}
	for _, d := range []string{defaults, dir} {
		if d == "" {
			continue
		}
		if err := c.readDir(d); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Config) readDir(dir string) error {
	for _, sub := range []string{"services", "ipsets", "zones", "policies"} {
		paths, err := filepath.Glob(filepath.Join(dir, sub, "*.xml"))
		if err != nil {
			return err
		}
		sort.Strings(paths)
		for _, p := range paths {
			data, err := safeio.ReadFile(p, FileLimit, nil)
			if err != nil {
				return err
			}
			name := strings.TrimSuffix(filepath.Base(p), ".xml")
			if err := c.add(sub, name, p, data); err != nil {
				return err
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "firewalld.conf"))
	if err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "DefaultZone="); ok && v != "" {
				c.DefaultZone = strings.TrimSpace(v)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// add parses one file of kind sub ("services"…).
func (c *Config) add(sub, name, path string, data []byte) error {
	root := map[string]string{"services": "service", "ipsets": "ipset", "zones": "zone", "policies": "policy"}[sub]
	var v any
	switch sub {
	case "services":
		s := &XService{Name: name, File: path}
		v = s
		defer func() { c.Services[name] = s }()
	case "ipsets":
		s := &XIPSet{Name: name, File: path}
		v = s
		defer func() { c.IPSets[name] = s }()
	case "zones":
		z := &XZone{Name: name, File: path}
		v = z
		defer func() { c.Zones[name] = z }()
	case "policies":
		p := &XPolicy{Name: name, File: path}
		v = p
		defer func() { c.Policies[name] = p }()
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	start, err := rootElement(dec)
	if err != nil {
		return fmt.Errorf("%s: line %d: %v", path, line(data, dec.InputOffset()), err)
	}
	if start.Name.Local != root {
		return fmt.Errorf("%s: line %d: root element <%s>, want <%s>", path, line(data, dec.InputOffset()), start.Name.Local, root)
	}
	if err := dec.DecodeElement(v, &start); err != nil {
		return fmt.Errorf("%s: line %d: %v", path, line(data, dec.InputOffset()), err)
	}
	return nil
}

func rootElement(dec *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if s, ok := tok.(xml.StartElement); ok {
			return s, nil
		}
	}
}

// line is the line of byte offset off in data.
func line(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// ParsePortRange reads a firewalld port: "5060" or "10000-20000".
func ParsePortRange(s string) (model.PortRange, error) {
	return model.ParsePortRange(strings.TrimSpace(s))
}

// ServicePorts are the destination ports of service name by protocol,
// its includes followed.
func (c *Config) ServicePorts(name string) (map[string]model.PortSet, error) {
	out := map[string]model.PortSet{}
	seen := map[string]bool{}
	var walk func(n string) error
	walk = func(n string) error {
		if seen[n] {
			return nil
		}
		seen[n] = true
		s, ok := c.Services[n]
		if !ok {
			return fmt.Errorf("service %q is not defined", n)
		}
		for _, p := range s.Ports {
			r, err := ParsePortRange(p.Port)
			if err != nil {
				return fmt.Errorf("%s: port %q: %v", s.File, p.Port, err)
			}
			out[p.Protocol] = out[p.Protocol].Add(r)
		}
		for _, i := range s.Includes {
			if err := walk(i.Service); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(name)
}

// Addrs are the addresses a rich rule's side names: nil for any.
func (c *Config) Addrs(a *XAddr) ([]netip.Prefix, error) {
	switch {
	case a == nil:
		return nil, nil
	case a.IPSet != "":
		s, ok := c.IPSets[a.IPSet]
		if !ok {
			return nil, fmt.Errorf("ipset %q is not defined", a.IPSet)
		}
		return s.Prefixes()
	case a.Address != "":
		p, err := ParsePrefix(a.Address)
		if err != nil {
			return nil, fmt.Errorf("address %q: %v", a.Address, err)
		}
		return []netip.Prefix{p}, nil
	}
	return nil, nil
}

// Check verifies what firewall-offline-cmd --check-config leaves to the
// running daemon: every service and ipset a policy's or zone's rich rule
// names exists, every ipset entry is an address or prefix of the ipset's
// family, every port is a port or range.
func (c *Config) Check() error {
	check := func(kind string, p *XPolicy) error {
		for _, s := range p.Services {
			if _, err := c.ServicePorts(s.Name); err != nil {
				return fmt.Errorf("%s: %s %s: %v", p.File, kind, p.Name, err)
			}
		}
		for i := range p.Rules {
			r := &p.Rules[i]
			if r.Service != nil {
				if _, err := c.ServicePorts(r.Service.Name); err != nil {
					return fmt.Errorf("%s: rule %d: %v", p.File, i+1, err)
				}
			}
			for _, a := range []*XAddr{r.Source, r.Destination} {
				ps, err := c.Addrs(a)
				if err != nil {
					return fmt.Errorf("%s: rule %d: %v", p.File, i+1, err)
				}
				for _, pr := range ps {
					if (r.Family == "ipv6") != pr.Addr().Is6() {
						return fmt.Errorf("%s: rule %d: %s is not of family %s", p.File, i+1, pr, r.Family)
					}
				}
			}
			if r.ForwardPort != nil {
				if _, err := ParsePortRange(r.ForwardPort.Port); err != nil {
					return fmt.Errorf("%s: rule %d: forward-port port %q: %v", p.File, i+1, r.ForwardPort.Port, err)
				}
			}
		}
		return nil
	}
	for _, n := range sortedKeys(c.Policies) {
		p := c.Policies[n]
		if err := check("policy", p); err != nil {
			return err
		}
		switch p.Target {
		case "", "CONTINUE", "ACCEPT", "DROP", "REJECT":
		default:
			return fmt.Errorf("%s: policy %s: target %q: CONTINUE, ACCEPT, DROP or REJECT", p.File, n, p.Target)
		}
		for _, z := range append(slices.Clone(p.IngressZones), p.EgressZones...) {
			if _, ok := c.Zones[z.Name]; !ok && z.Name != "ANY" && z.Name != "HOST" {
				return fmt.Errorf("%s: policy %s: zone %q is not defined", p.File, n, z.Name)
			}
		}
	}
	for _, n := range sortedKeys(c.Zones) {
		if err := check("zone", c.Zones[n]); err != nil {
			return err
		}
	}
	for _, n := range sortedKeys(c.IPSets) {
		s := c.IPSets[n]
		ps, err := s.Prefixes()
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Addr().Is6() != (s.Family() == 6) {
				return fmt.Errorf("%s: entry %s is not of the ipset's family", s.File, p)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
