package asa

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/portolan/portolan/audit/ruleset"
)

// Format is the audit's name of an ASA running configuration.
const Format ruleset.Format = "asa"

func init() {
	ruleset.RegisterReader(ruleset.Reader{
		Format:   Format,
		Describe: "a Cisco ASA configuration (show running-config)",
		Looks:    Looks,
		Parse:    Parse,
	})
}

// Bounds of what the reader takes.
const (
	maxLines   = 2_000_000
	maxObjects = 200_000
	maxDepth   = 16        // nesting of object groups
	maxRules   = 1_000_000 // rules the access lists expand into
	maxValues  = 1_000_000 // addresses or services a group expands into
)

// Looks reports whether data is an ASA configuration: `ASA Version` or
// `: Saved` near its start, portolan's own header, or access lists in the
// ASA's form (`access-list NAME extended`) beside an ASA-only command
// (object network, access-group, nameif). IOS writes `ip access-list
// extended` and numbered lists without "extended".
func Looks(data []byte) bool {
	head := data
	if len(head) > 8192 {
		head = head[:8192]
	}
	var acl, asa bool
	for _, l := range bytes.Split(head, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		switch {
		case bytes.HasPrefix(l, []byte("ASA Version ")), bytes.HasPrefix(l, []byte(": Saved")),
			bytes.HasPrefix(l, []byte(": portolan rules for Cisco ASA")):
			return true
		case bytes.HasPrefix(l, []byte("access-list ")) && bytes.Contains(l, []byte(" extended ")):
			acl = true
		case bytes.HasPrefix(l, []byte("object network ")), bytes.HasPrefix(l, []byte("object-group network ")),
			bytes.HasPrefix(l, []byte("access-group ")), bytes.HasPrefix(l, []byte(" nameif ")):
			asa = true
		}
	}
	return acl && asa
}

// addr is one entry of a network object or group: a range of addresses,
// or a DNS name (fam 0 for both families).
type addr struct {
	lo, hi netip.Addr
	name   string
	fam    int
}

type netObj struct {
	name  string
	line  int
	addrs []addr // one entry (host, subnet, range, fqdn), or none yet
	nat   *objNAT
}

type objNAT struct {
	line             int
	text             string
	realIf, mappedIf string
	static           bool
	mapped           string // an address, an object, "interface", "interface ipv6", or ""
	proto            string
	realPort         uint16
	mappedPort       uint16
	service          bool
}

type svcEntry struct {
	proto   string // "ip" for any, "tcp-udp", a name or number
	sport   []portOp
	dport   []portOp
	unknown string
}

type portOp struct {
	lo, hi uint16
	neg    bool
}

type group struct {
	name    string
	kind    string // network, service, protocol, icmp-type, other
	proto   string // a port group's protocol: tcp, udp, tcp-udp
	line    int
	members []string // network-object/... lines, raw
	lines   []int
}

type ace struct {
	line   int
	text   string
	acl    string
	remark string
	toks   []string
	done   bool
	parsed *aceParsed
}

type twiceNAT struct {
	line             int
	text             string
	realIf, mappedIf string
	toks             []string
	section          int // 1 or 3 (after-auto)
}

type iface struct {
	name   string // nameif
	level  int
	hasLvl bool
	addrs  []netip.Addr
	line   int
}

type timeoutLine struct {
	secs, line int
	text       string
}

type binding struct {
	acl, dir, ifname string
	line             int
	text             string
	global           bool
}

// Config is what the reader takes from a running configuration.
type Config struct {
	file       string
	ifaces     map[string]*iface
	ifOrder    []string
	objects    map[string]*netObj
	objOrder   []string
	services   map[string]*svcEntry // object service
	groups     map[string]*group
	names      map[string]netip.Addr
	acls       map[string][]*ace
	aclOrder   []string
	bindings   []binding
	twice      []*twiceNAT
	sameSec    bool
	inspectBy  map[string]map[string]int // policy-map → inspection engines on in class inspection_default → line
	globalPol  string                    // the policy-map applied with service-policy … global
	timeouts   map[string]timeoutLine    // timeout udp, timeout conn
	netCache   map[string]addrSide
	notes      []string
	noted      map[string]bool
	objects64k int
}

func (c *Config) note(s string) {
	if c.noted == nil {
		c.noted = map[string]bool{}
	}
	if !c.noted[s] {
		c.noted[s] = true
		c.notes = append(c.notes, s)
	}
}

func (c *Config) errf(line int, format string, a ...any) error {
	return fmt.Errorf("%s: line %d: %s", c.file, line, fmt.Sprintf(format, a...))
}

// Parse reads a running configuration into the audit's chains.
func Parse(name string, data []byte) (*ruleset.Ruleset, error) {
	c, err := Read(name, data)
	if err != nil {
		return nil, err
	}
	return c.Ruleset()
}

// Read parses a running configuration.
func Read(name string, data []byte) (*Config, error) {
	c := &Config{file: name, ifaces: map[string]*iface{}, objects: map[string]*netObj{}, services: map[string]*svcEntry{},
		groups: map[string]*group{}, names: map[string]netip.Addr{}, acls: map[string][]*ace{}, inspectBy: map[string]map[string]int{}}
	lines := strings.Split(string(data), "\n")
	if len(lines) > maxLines {
		return nil, fmt.Errorf("%s: %d lines, more than the %d the reader takes", name, len(lines), maxLines)
	}
	// The block a sub-command line (indented) belongs to.
	var (
		blockKind string
		blockName string
		curIf     *iface
		curObj    *netObj
		curSvc    string
		curGroup  *group
		policyMap string
		class     string
		remarks   = map[string]string{}
	)
	for i, raw := range lines {
		n := i + 1
		l := strings.TrimRight(raw, "\r \t")
		if l == "" || strings.HasPrefix(l, "!") || strings.HasPrefix(l, ":") {
			continue
		}
		indented := l[0] == ' ' || l[0] == '\t'
		toks := strings.Fields(l)
		if len(toks) == 0 {
			continue
		}
		if indented {
			switch blockKind {
			case "interface":
				switch toks[0] {
				case "nameif":
					if len(toks) != 2 {
						return nil, c.errf(n, "nameif: want one name")
					}
					curIf.name, curIf.line = toks[1], n
					if c.ifaces[toks[1]] == nil {
						c.ifOrder = append(c.ifOrder, toks[1])
					}
					old := c.ifaces[toks[1]]
					if old != nil && old.hasLvl && !curIf.hasLvl {
						curIf.level, curIf.hasLvl = old.level, true
					}
					c.ifaces[toks[1]] = curIf
				case "security-level":
					if len(toks) != 2 {
						return nil, c.errf(n, "security-level: want a number 0-100")
					}
					v, err := strconv.Atoi(toks[1])
					if err != nil || v < 0 || v > 100 {
						return nil, c.errf(n, "security-level %q: want a number 0-100", toks[1])
					}
					curIf.level, curIf.hasLvl = v, true
				case "ip", "ipv6":
					if len(toks) >= 3 && toks[1] == "address" {
						a := toks[2]
						if p, err := netip.ParsePrefix(a); err == nil {
							curIf.addrs = append(curIf.addrs, p.Addr())
						} else if x, err := netip.ParseAddr(a); err == nil {
							curIf.addrs = append(curIf.addrs, x)
						}
					}
				}
				continue
			case "object network":
				if err := c.objLine(curObj, n, l, toks); err != nil {
					return nil, err
				}
				continue
			case "object service":
				if toks[0] == "service" {
					e, err := c.serviceEntry(n, toks[1:], "")
					if err != nil {
						return nil, err
					}
					c.services[curSvc] = e
				}
				continue
			case "object-group":
				if toks[0] == "description" {
					continue
				}
				curGroup.members = append(curGroup.members, strings.Join(toks, " "))
				curGroup.lines = append(curGroup.lines, n)
				continue
			case "policy-map":
				if len(toks) >= 2 && toks[0] == "class" {
					class = toks[1]
					continue
				}
				if class == "inspection_default" {
					m := c.inspectBy[policyMap]
					if m == nil {
						m = map[string]int{}
						c.inspectBy[policyMap] = m
					}
					switch {
					case toks[0] == "inspect" && len(toks) >= 2:
						m[engine(toks[1:])] = n
					case toks[0] == "no" && len(toks) >= 3 && toks[1] == "inspect":
						delete(m, engine(toks[2:]))
					}
				}
				continue
			default:
				continue // sub-commands of blocks that do not change the verdicts
			}
		}
		blockKind, blockName, curIf, curObj, curGroup = "", "", nil, nil, nil
		_ = blockName
		switch toks[0] {
		case "interface":
			blockKind = "interface"
			curIf = &iface{line: n}
		case "name":
			if len(toks) >= 3 {
				a, err := netip.ParseAddr(toks[1])
				if err != nil {
					return nil, c.errf(n, "name %q: not an address", toks[1])
				}
				c.names[toks[2]] = a.Unmap()
			}
		case "object":
			if len(toks) < 3 {
				return nil, c.errf(n, "object: want a type and a name")
			}
			if err := c.count(n); err != nil {
				return nil, err
			}
			switch toks[1] {
			case "network":
				blockKind = "object network"
				curObj = c.objects[toks[2]]
				if curObj == nil {
					curObj = &netObj{name: toks[2], line: n}
					c.objects[toks[2]] = curObj
					c.objOrder = append(c.objOrder, toks[2])
				}
			case "service":
				blockKind = "object service"
				curSvc = toks[2]
				if c.services[curSvc] == nil {
					c.services[curSvc] = &svcEntry{proto: "ip", unknown: "service object without a service line"}
				}
			default:
				blockKind = "other"
			}
		case "object-group":
			if len(toks) < 3 {
				return nil, c.errf(n, "object-group: want a type and a name")
			}
			if err := c.count(n); err != nil {
				return nil, err
			}
			blockKind = "object-group"
			curGroup = c.groups[toks[2]]
			if curGroup == nil {
				curGroup = &group{name: toks[2], kind: toks[1], line: n}
				c.groups[toks[2]] = curGroup
			}
			if toks[1] == "service" && len(toks) >= 4 {
				curGroup.proto = toks[3]
			}
		case "access-list":
			if len(toks) < 3 {
				return nil, c.errf(n, "access-list: want a name and an entry")
			}
			acl := toks[1]
			rest := toks[2:]
			if rest[0] == "line" && len(rest) > 2 {
				rest = rest[2:]
			}
			if rest[0] == "remark" {
				remarks[acl] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l[strings.Index(l, " remark")+1:]), "remark"))
				continue
			}
			if _, ok := c.acls[acl]; !ok {
				c.aclOrder = append(c.aclOrder, acl)
			}
			text := strings.TrimSpace(l)
			if len(text) > 240 {
				text = text[:240] + "…"
			}
			c.acls[acl] = append(c.acls[acl], &ace{line: n, text: text, acl: acl, remark: remarks[acl], toks: rest})
		case "access-group":
			// access-group ACL {in|out} interface IF [per-user-override|control-plane] | access-group ACL global
			b := binding{line: n, text: strings.TrimSpace(l)}
			switch {
			case len(toks) >= 3 && toks[2] == "global":
				b.acl, b.global = toks[1], true
			case len(toks) >= 5 && (toks[2] == "in" || toks[2] == "out") && toks[3] == "interface":
				b.acl, b.dir, b.ifname = toks[1], toks[2], toks[4]
				if len(toks) > 5 && toks[5] == "control-plane" {
					c.note(fmt.Sprintf("asa: line %d: %s: a control-plane access list filters traffic to the ASA itself, not through it: not evaluated", n, b.text))
					continue
				}
			default:
				return nil, c.errf(n, "access-group: want ACL in|out interface NAME, or ACL global")
			}
			c.bindings = append(c.bindings, b)
		case "nat":
			tn, err := c.twiceLine(n, l, toks)
			if err != nil {
				return nil, err
			}
			c.twice = append(c.twice, tn)
		case "timeout":
			// timeout udp 0:02:00 [timeout …]: pairs of a feature and a time.
			for i := 1; i+1 < len(toks); i += 2 {
				if toks[i] != "udp" && toks[i] != "conn" {
					continue
				}
				secs, ok := hmsSecs(toks[i+1])
				if !ok {
					return nil, c.errf(n, "timeout %s %q: want hh:mm:ss", toks[i], toks[i+1])
				}
				if c.timeouts == nil {
					c.timeouts = map[string]timeoutLine{}
				}
				c.timeouts[toks[i]] = timeoutLine{secs: secs, line: n, text: "timeout " + toks[i] + " " + toks[i+1]}
			}
		case "service-policy":
			if len(toks) == 3 && toks[2] == "global" {
				c.globalPol = toks[1]
			}
		case "same-security-traffic":
			if len(toks) >= 3 && toks[1] == "permit" && toks[2] == "inter-interface" {
				c.sameSec = true
			}
		case "policy-map":
			blockKind = "policy-map"
			policyMap, class = "", ""
			if len(toks) >= 2 {
				policyMap = toks[len(toks)-1]
			}
		default:
			blockKind = "other"
		}
	}
	return c, nil
}

// hmsSecs reads hh:mm:ss (or mm:ss, ss) as seconds.
func hmsSecs(s string) (int, bool) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return 0, false
	}
	secs := 0
	for _, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 1193*3600 {
			return 0, false
		}
		secs = secs*60 + v
	}
	return secs, secs <= 1193*3600
}

// engine names an inspection: "sip", "h323 h225"; an inspection policy
// map after it ("inspect sip sip-map") is left aside.
func engine(toks []string) string {
	if toks[0] == "h323" && len(toks) > 1 {
		return "h323 " + toks[1]
	}
	return toks[0]
}

func (c *Config) count(n int) error {
	c.objects64k++
	if c.objects64k > maxObjects {
		return c.errf(n, "more than %d objects and groups", maxObjects)
	}
	return nil
}

// objLine reads a line of an object network block.
func (c *Config) objLine(o *netObj, n int, l string, toks []string) error {
	bad := func() error {
		return c.errf(n, "object network %s: %q: not a host, subnet, range or fqdn", o.name, strings.TrimSpace(l))
	}
	switch toks[0] {
	case "host":
		if len(toks) != 2 {
			return bad()
		}
		a, err := netip.ParseAddr(toks[1])
		if err != nil {
			return c.errf(n, "object network %s: host %q: %v", o.name, toks[1], err)
		}
		o.addrs = []addr{{lo: a.Unmap(), hi: a.Unmap()}}
	case "subnet":
		var p netip.Prefix
		var err error
		switch len(toks) {
		case 2:
			p, err = netip.ParsePrefix(toks[1])
		case 3:
			p, err = maskPrefix(toks[1], toks[2])
		default:
			return bad()
		}
		if err != nil {
			return c.errf(n, "object network %s: subnet: %v", o.name, err)
		}
		r := netipx.RangeOfPrefix(p.Masked())
		o.addrs = []addr{{lo: r.From(), hi: r.To()}}
	case "range":
		if len(toks) != 3 {
			return bad()
		}
		a, err1 := netip.ParseAddr(toks[1])
		b, err2 := netip.ParseAddr(toks[2])
		if err1 != nil || err2 != nil || a.Is4() != b.Is4() || b.Less(a) {
			return c.errf(n, "object network %s: range %s %s: not a range of addresses", o.name, toks[1], toks[2])
		}
		o.addrs = []addr{{lo: a, hi: b}}
	case "fqdn":
		fam := 0
		rest := toks[1:]
		if len(rest) == 2 && (rest[0] == "v4" || rest[0] == "v6") {
			fam = 4
			if rest[0] == "v6" {
				fam = 6
			}
			rest = rest[1:]
		}
		if len(rest) != 1 || !validName(rest[0]) {
			return c.errf(n, "object network %s: fqdn: want [v4|v6] NAME", o.name)
		}
		o.addrs = []addr{{name: rest[0], fam: fam}}
	case "nat":
		nat, err := c.objNATLine(o, n, l, toks)
		if err != nil {
			return err
		}
		o.nat = nat
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func maskPrefix(a, m string) (netip.Prefix, error) {
	ip, err := netip.ParseAddr(a)
	if err != nil || !ip.Is4() {
		return netip.Prefix{}, fmt.Errorf("%q: not an IPv4 address", a)
	}
	mk, err := netip.ParseAddr(m)
	if err != nil || !mk.Is4() {
		return netip.Prefix{}, fmt.Errorf("%q: not a mask", m)
	}
	b := mk.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for bits < 32 && v&(1<<(31-bits)) != 0 {
		bits++
	}
	if bits < 32 && v<<bits != 0 {
		return netip.Prefix{}, fmt.Errorf("mask %s: not contiguous", m)
	}
	return netip.PrefixFrom(ip, bits).Masked(), nil
}

// objNATLine reads `nat (real,mapped) static MAPPED [net-to-net] [dns]
// [service PROTO REAL MAPPED] …` or `nat (real,mapped) dynamic …`.
func (c *Config) objNATLine(o *netObj, n int, l string, toks []string) (*objNAT, error) {
	nat := &objNAT{line: n, text: "object network " + o.name + ": " + strings.TrimSpace(l)}
	rest := toks[1:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "(") {
		r, m, ok := ifPair(rest[0])
		if !ok {
			return nil, c.errf(n, "nat %s: want (REAL_IF,MAPPED_IF)", rest[0])
		}
		nat.realIf, nat.mappedIf = r, m
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return nil, c.errf(n, "nat: want static or dynamic")
	}
	switch rest[0] {
	case "dynamic":
		return nat, nil
	case "static":
	default:
		return nil, c.errf(n, "nat: %q: want static or dynamic", rest[0])
	}
	nat.static = true
	rest = rest[1:]
	if len(rest) == 0 {
		return nil, c.errf(n, "nat static: want the mapped address")
	}
	nat.mapped = rest[0]
	rest = rest[1:]
	if nat.mapped == "interface" && len(rest) > 0 && rest[0] == "ipv6" {
		nat.mapped = "interface ipv6"
		rest = rest[1:]
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == "service" {
			if i+3 >= len(rest) {
				return nil, c.errf(n, "nat static service: want PROTO REAL_PORT MAPPED_PORT")
			}
			nat.service, nat.proto = true, rest[i+1]
			rp, err1 := portNum(nat.proto, rest[i+2])
			mp, err2 := portNum(nat.proto, rest[i+3])
			if err1 != nil || err2 != nil {
				return nil, c.errf(n, "nat static service %s %s %s: not ports", rest[i+1], rest[i+2], rest[i+3])
			}
			nat.realPort, nat.mappedPort = rp, mp
			i += 3
		}
	}
	return nat, nil
}

func ifPair(s string) (string, string, bool) {
	s, ok := strings.CutPrefix(s, "(")
	if !ok {
		return "", "", false
	}
	s, ok = strings.CutSuffix(s, ")")
	if !ok {
		return "", "", false
	}
	a, b, ok := strings.Cut(s, ",")
	return a, b, ok && a != "" && b != ""
}

func (c *Config) twiceLine(n int, l string, toks []string) (*twiceNAT, error) {
	t := &twiceNAT{line: n, text: strings.TrimSpace(l), section: 1}
	rest := toks[1:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "(") {
		r, m, ok := ifPair(rest[0])
		if !ok {
			return nil, c.errf(n, "nat %s: want (REAL_IF,MAPPED_IF)", rest[0])
		}
		t.realIf, t.mappedIf = r, m
		rest = rest[1:]
	}
	for len(rest) > 0 {
		switch rest[0] {
		case "after-auto":
			t.section = 3
			rest = rest[1:]
			continue
		case "after-object":
			t.section = 3
			rest = rest[1:]
			continue
		}
		if _, err := strconv.Atoi(rest[0]); err == nil {
			rest = rest[1:]
			continue
		}
		break
	}
	if len(rest) == 0 || rest[0] != "source" {
		return nil, c.errf(n, "nat: want source static|dynamic …")
	}
	t.toks = rest
	return t, nil
}
