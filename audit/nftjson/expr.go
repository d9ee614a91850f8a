package nftjson

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
)

// kind says how the values of a field are written.
type kind uint8

const (
	kAddr4 kind = iota
	kAddr6
	kPort
	kName
	kProto
	kNfProto
	kEther
	kCtState
	kCtStatus
	kCtDir
	kTCPFlags
)

// operand is one field a match's left side loads.
type operand struct {
	field ruleset.Field
	kind  kind
}

// left is a match's left side, read.
type left struct {
	ops     []operand
	deps    []ruleset.Term // protocol dependencies (tcp dport: l4proto tcp)
	mask    uint32
	masked  bool
	unknown string // what is not understood, "" when all is
}

var ctStateBits = map[string]uint32{
	"invalid": ruleset.CtInvalid, "established": ruleset.CtEstablished, "related": ruleset.CtRelated,
	"new": ruleset.CtNew, "untracked": ruleset.CtUntracked,
}

var ctStatusBits = map[string]uint32{
	"expected": ruleset.CtStatusExpected, "seen-reply": ruleset.CtStatusSeenReply, "assured": ruleset.CtStatusAssured,
	"confirmed": ruleset.CtStatusConfirmed, "snat": ruleset.CtStatusSNAT, "dnat": ruleset.CtStatusDNAT,
	"dying": 512, "snat-done": ruleset.CtStatusSNATDone, "dnat-done": ruleset.CtStatusDNATDone,
	"seq-adjust": 64, "fixed-timeout": 1024, "template": 2048, "nat-clash": 4096, "helper": 8192,
	"offload": 16384, "hw-offload": 32768,
}

var tcpFlagBits = map[string]uint32{
	"fin": ruleset.TCPFin, "syn": ruleset.TCPSyn, "rst": ruleset.TCPRst, "psh": ruleset.TCPPsh,
	"ack": ruleset.TCPAck, "urg": ruleset.TCPUrg, "ecn": ruleset.TCPEce, "cwr": ruleset.TCPCwr,
}

func one(f ruleset.Field, vals ...uint32) ruleset.Term {
	t := ruleset.Term{Fields: []ruleset.Field{f}}
	for _, v := range vals {
		t.Set = append(t.Set, ruleset.Tuple{ruleset.NumValue(v)})
	}
	return t
}

var (
	depIPv4 = one(ruleset.NfProto, 4)
	depIPv6 = one(ruleset.NfProto, 6)
	// The dependencies and operands payload gives, shared: they are
	// read, never written (a slice without room to grow: appends copy).
	depsIPv4 = []ruleset.Term{depIPv4}
	depsIPv6 = []ruleset.Term{depIPv6}
	// depsProto[n] is the dependency on protocol number n
	depsProto = func() map[uint32][]ruleset.Term {
		m := map[uint32][]ruleset.Term{}
		for _, n := range ruleset.ProtoNumbers {
			m[n] = []ruleset.Term{one(ruleset.L4Proto, n)}
		}
		return m
	}()
	opsOf = func() (m [ruleset.TCPFlags + 1][kTCPFlags + 1][]operand) {
		for f := range m {
			for k := range m[f] {
				m[f][k] = []operand{{ruleset.Field(f), kind(k)}}
			}
		}
		return
	}()
)

// ops returns the operands of one field, shared.
func ops(f ruleset.Field, k kind) []operand {
	if int(f) < len(opsOf) && int(k) < len(opsOf[f]) {
		return opsOf[f][k]
	}
	return []operand{{f, k}}
}

// protoDep returns the dependency on protocol number n.
func protoDep(n uint32) []ruleset.Term {
	if d, ok := depsProto[n]; ok {
		return d
	}
	return []ruleset.Term{one(ruleset.L4Proto, n)}
}

// transport protocols whose header nft can load, by name.
var transport = map[string]uint32{"tcp": 6, "udp": 17, "udplite": 136, "sctp": 132, "dccp": 33}

// leftOf reads a match's left side.
func (p *parser) leftOf(path *jpath, v any) (left, error) {
	m, ok := v.(obj)
	if !ok {
		return left{unknown: fmt.Sprintf("left side %s", short(v))}, nil
	}
	if len(m) != 1 {
		return left{}, p.errf(path, "an expression must be an object with one key")
	}
	for _, mem := range m {
		k, x := mem.k, mem.v
		switch k {
		case "payload":
			return p.payload(&jpath{up: path, k: "payload"}, x)
		case "meta":
			return p.meta(&jpath{up: path, k: "meta"}, x)
		case "ct":
			return p.ct(&jpath{up: path, k: "ct"}, x)
		case "concat":
			parts, ok := x.([]any)
			if !ok {
				return left{}, p.errf(&jpath{up: path, k: "concat"}, "must be a list")
			}
			var out left
			for i, part := range parts {
				l, err := p.leftOf(path.spelled("concat", i), part)
				if err != nil {
					return left{}, err
				}
				out.deps = append(out.deps, l.deps...)
				if l.unknown != "" && out.unknown == "" {
					out.unknown = l.unknown
				}
				if l.masked || len(l.ops) != 1 {
					if out.unknown == "" {
						out.unknown = "a concatenation of expressions portolan does not follow"
					}
					continue
				}
				out.ops = append(out.ops, l.ops[0])
			}
			return out, nil
		case "&":
			args, ok := x.([]any)
			if !ok || len(args) != 2 {
				return left{}, p.errf(&jpath{up: path, k: "&"}, "needs two operands")
			}
			l, err := p.leftOf(path.spelled("&", 0), args[0])
			if err != nil || l.unknown != "" {
				return l, err
			}
			if len(l.ops) != 1 || !isFlags(l.ops[0].kind) {
				l.unknown = "a bitmask of " + l.describe()
				return l, nil
			}
			mk, ok := flagValue(l.ops[0].kind, args[1])
			if !ok {
				l.unknown = "a bitmask " + short(args[1])
				return l, nil
			}
			l.mask, l.masked = mk, true
			return l, nil
		default:
			return left{unknown: fmt.Sprintf("%q expression", k)}, nil
		}
	}
	return left{}, nil
}

func (l left) describe() string {
	var names []string
	for _, o := range l.ops {
		names = append(names, o.field.String())
	}
	return strings.Join(names, " . ")
}

func isFlags(k kind) bool { return k == kCtState || k == kCtStatus || k == kTCPFlags }

func (p *parser) payload(path *jpath, v any) (left, error) {
	m, ok := v.(obj)
	if !ok {
		return left{}, p.errf(path, "must be an object")
	}
	proto, ok1 := str(m, "protocol")
	field, ok2 := str(m, "field")
	if !ok1 || !ok2 {
		// raw payload: {"base": "th", "offset": 16, "len": 16}
		return left{unknown: "a raw payload expression"}, nil
	}
	return payloadOf(proto, field), nil
}

// payloadOf reads the payload expression of a protocol's field.
func payloadOf(proto, field string) left {
	var l left
	switch proto {
	case "ip", "ip6":
		deps, ak := depsIPv4, kAddr4
		if proto == "ip6" {
			deps, ak = depsIPv6, kAddr6
		}
		l.deps = deps
		switch field {
		case "saddr":
			l.ops = ops(ruleset.SrcAddr, ak)
		case "daddr":
			l.ops = ops(ruleset.DstAddr, ak)
		case "protocol", "nexthdr":
			// ip6 nexthdr is the first header after IPv6; the packets
			// audited carry no extension headers, so it is the transport.
			l.ops = ops(ruleset.L4Proto, kProto)
		default:
			l.unknown = proto + " " + field
		}
	case "th":
		switch field {
		case "sport":
			l.ops = ops(ruleset.SrcPort, kPort)
		case "dport":
			l.ops = ops(ruleset.DstPort, kPort)
		default:
			l.unknown = "th " + field
		}
	default:
		n, isTransport := transport[proto]
		pn, known := ruleset.ProtoNumbers[proto]
		switch {
		case isTransport:
			l.deps = protoDep(n)
		case known:
			l.deps = protoDep(pn)
			if proto == "icmp" {
				l.deps = append(l.deps, depIPv4)
			}
			if proto == "icmpv6" {
				l.deps = append(l.deps, depIPv6)
			}
		}
		switch {
		case isTransport && field == "sport":
			l.ops = ops(ruleset.SrcPort, kPort)
		case isTransport && field == "dport":
			l.ops = ops(ruleset.DstPort, kPort)
		case proto == "tcp" && field == "flags":
			l.ops = []operand{{ruleset.TCPFlags, kTCPFlags}}
		default:
			l.unknown = proto + " " + field
		}
	}
	return l
}

func (p *parser) meta(path *jpath, v any) (left, error) {
	m, ok := v.(obj)
	if !ok {
		return left{}, p.errf(path, "must be an object")
	}
	k, ok := str(m, "key")
	if !ok {
		return left{}, p.errf(&jpath{up: path, k: "key"}, "must be a string")
	}
	return metaOf(k), nil
}

// metaOf reads the meta expression of key k.
func metaOf(k string) left {
	switch k {
	case "iifname", "iif":
		return left{ops: ops(ruleset.IIfName, kName)}
	case "oifname", "oif":
		return left{ops: ops(ruleset.OIfName, kName)}
	case "l4proto":
		return left{ops: ops(ruleset.L4Proto, kProto)}
	case "nfproto":
		return left{ops: ops(ruleset.NfProto, kNfProto)}
	case "protocol":
		return left{ops: ops(ruleset.NfProto, kEther)}
	}
	return left{unknown: "meta " + k}
}

func (p *parser) ct(path *jpath, v any) (left, error) {
	m, ok := v.(obj)
	if !ok {
		return left{}, p.errf(path, "must be an object")
	}
	k, ok := str(m, "key")
	if !ok {
		return left{}, p.errf(&jpath{up: path, k: "key"}, "must be a string")
	}
	if _, dir := m.has("dir"); dir {
		return left{unknown: "ct " + k + " of one direction"}, nil
	}
	switch k {
	case "state":
		return left{ops: []operand{{ruleset.CtState, kCtState}}}, nil
	case "status":
		return left{ops: []operand{{ruleset.CtStatus, kCtStatus}}}, nil
	case "direction":
		return left{ops: []operand{{ruleset.CtDirection, kCtDir}}}, nil
	case "l3proto":
		return left{ops: []operand{{ruleset.NfProto, kNfProto}}}, nil
	case "protocol":
		return left{ops: []operand{{ruleset.L4Proto, kProto}}}, nil
	}
	return left{unknown: "ct " + k}, nil
}

// short writes a JSON value briefly for messages.
func short(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// flagValue reads a value of a bitmask field: a name, a list of names, an
// "|" of them, or a number.
func flagValue(k kind, v any) (uint32, bool) {
	names := ctStateBits
	switch k {
	case kCtStatus:
		names = ctStatusBits
	case kTCPFlags:
		names = tcpFlagBits
	}
	switch x := v.(type) {
	case string:
		b, ok := names[x]
		return b, ok
	case []any:
		var out uint32
		for _, e := range x {
			b, ok := flagValue(k, e)
			if !ok {
				return 0, false
			}
			out |= b
		}
		return out, true
	case obj:
		if args, ok := x.get("|").([]any); ok && len(x) == 1 {
			return flagValue(k, args)
		}
	default:
		if n, ok := intOf(v); ok && n >= 0 && n <= 0xffffffff {
			return uint32(n), true
		}
	}
	return 0, false
}

// scalar reads one value of one operand. ok is false when the value is
// not one portolan understands (it then says what).
func (p *parser) scalar(o operand, v any) (ruleset.Value, string) {
	bad := func() (ruleset.Value, string) { return ruleset.Value{}, fmt.Sprintf("%s value %s", o.field, short(v)) }
	if m, ok := v.(obj); ok {
		if e, ok := m.get("elem").(obj); ok && len(m) == 1 {
			return p.scalar(o, e.get("val"))
		}
		if r, ok := m.get("range").([]any); ok && len(m) == 1 && len(r) == 2 {
			lo, why := p.scalar(o, r[0])
			if why != "" {
				return lo, why
			}
			hi, why := p.scalar(o, r[1])
			if why != "" {
				return hi, why
			}
			switch o.kind {
			case kAddr4, kAddr6:
				if lo.Lo.BitLen() != hi.Lo.BitLen() || hi.Hi.Less(lo.Lo) {
					return bad()
				}
				return ruleset.AddrValue(lo.Lo, hi.Hi), ""
			case kPort:
				if hi.PHi < lo.PLo {
					return bad()
				}
				return ruleset.PortValue(lo.PLo, hi.PHi), ""
			case kProto, kNfProto, kEther, kCtDir:
				if hi.Num < lo.Num {
					return bad()
				}
				return ruleset.Value{Num: lo.Num, NumIsRange: true, NumHi: hi.Num}, ""
			}
			return bad()
		}
		if pr, ok := m.get("prefix").(obj); ok && len(m) == 1 && (o.kind == kAddr4 || o.kind == kAddr6) {
			as, _ := str(pr, "addr")
			n, ok := intOf(pr.get("len"))
			a, err := netip.ParseAddr(as)
			if err != nil || !ok {
				return bad()
			}
			a = a.Unmap()
			if n < 0 || int(n) > a.BitLen() || (o.kind == kAddr4) != a.Is4() {
				return bad()
			}
			return ruleset.PrefixValue(netip.PrefixFrom(a, int(n))), ""
		}
		if isFlags(o.kind) {
			if b, ok := flagValue(o.kind, v); ok {
				return ruleset.NumValue(b), ""
			}
		}
		return bad()
	}
	switch o.kind {
	case kAddr4, kAddr6:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		a, err := netip.ParseAddr(s)
		if err != nil || (o.kind == kAddr4) != a.Unmap().Is4() {
			return bad()
		}
		return ruleset.AddrValue(a, a), ""
	case kPort:
		n, ok := intOf(v)
		if !ok {
			if s, isStr := v.(string); isStr {
				if x, err := strconv.ParseUint(s, 10, 16); err == nil {
					return ruleset.PortValue(uint16(x), uint16(x)), ""
				}
			}
			return bad()
		}
		if n < 0 || n > 65535 {
			return bad()
		}
		return ruleset.PortValue(uint16(n), uint16(n)), ""
	case kName:
		s, ok := v.(string)
		if !ok {
			return bad() // an interface index: the interface was gone at listing
		}
		if strings.HasSuffix(s, `\*`) {
			return ruleset.NameValue(strings.TrimSuffix(s, `\*`)+"*", false), ""
		}
		if strings.HasSuffix(s, "*") {
			return ruleset.NameValue(strings.TrimSuffix(s, "*"), true), ""
		}
		return ruleset.NameValue(s, false), ""
	case kProto:
		if s, ok := v.(string); ok {
			n, known := ruleset.ProtoNumbers[s]
			if !known {
				return bad()
			}
			return ruleset.NumValue(n), ""
		}
		n, ok := intOf(v)
		if !ok || n < 0 || n > 255 {
			return bad()
		}
		return ruleset.NumValue(uint32(n)), ""
	case kNfProto, kEther:
		f, ok := family(v, o.kind)
		if !ok {
			return bad()
		}
		return ruleset.NumValue(f), ""
	case kCtDir:
		switch v {
		case "original":
			return ruleset.NumValue(0), ""
		case "reply":
			return ruleset.NumValue(1), ""
		}
		if n, ok := intOf(v); ok && (n == 0 || n == 1) {
			return ruleset.NumValue(uint32(n)), ""
		}
		return bad()
	case kCtState, kCtStatus, kTCPFlags:
		b, ok := flagValue(o.kind, v)
		if !ok {
			return bad()
		}
		return ruleset.NumValue(b), ""
	}
	return bad()
}

// family reads the value of meta nfproto ("ipv4", "ipv6", 2, 10) or of an
// ether type (meta protocol: "ip", "ip6", 0x0800, 0x86dd) as 4 or 6; any
// other name or number is 0, a family that matches no IP packet.
func family(v any, k kind) (uint32, bool) {
	names, nums := [2]string{"ipv4", "ipv6"}, [2]int64{2, 10}
	if k == kEther {
		names, nums = [2]string{"ip", "ip6"}, [2]int64{0x0800, 0x86dd}
	}
	n, isNum := intOf(v)
	s, isStr := v.(string)
	switch {
	case isStr && s == names[0], isNum && n == nums[0]:
		return 4, true
	case isStr && s == names[1], isNum && n == nums[1]:
		return 6, true
	}
	return 0, isStr || isNum
}

// tuple reads one element for the operands: a scalar for one operand, a
// {"concat": [...]} for several.
func (p *parser) tuple(ops []operand, v any) (ruleset.Tuple, string) {
	if len(ops) == 1 {
		x, why := p.scalar(ops[0], v)
		return ruleset.Tuple{x}, why
	}
	if m, ok := v.(obj); ok {
		if e, ok := m.get("elem").(obj); ok && len(m) == 1 {
			return p.tuple(ops, e.get("val"))
		}
		if parts, ok := m.get("concat").([]any); ok && len(parts) == len(ops) {
			out := make(ruleset.Tuple, len(ops))
			for i := range ops {
				x, why := p.scalar(ops[i], parts[i])
				if why != "" {
					return nil, why
				}
				out[i] = x
			}
			return out, ""
		}
	}
	return nil, "element " + short(v)
}

// setElems returns the elements a right side names: an anonymous set, a
// named one (@name), or one value.
func (p *parser) setElems(path *jpath, fam, table string, v any) ([]any, bool, string, error) {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "@") {
			d := p.sets[key(fam, table, x[1:])]
			if d == nil {
				return nil, false, "", p.errf(path, "set %s does not exist in table %s %s", x, fam, table)
			}
			if d.isMap {
				return nil, false, "a map used as a set", nil
			}
			return d.elems, true, "", nil
		}
	case obj:
		if s, ok := x.has("set"); ok && len(x) == 1 {
			switch e := s.(type) {
			case []any:
				return e, true, "", nil
			default:
				return []any{e}, true, "", nil
			}
		}
	}
	return []any{v}, false, "", nil
}

func (p *parser) match(path *jpath, fam, table string, r *ruleset.Rule, m obj) error {
	op, ok := str(m, "op")
	if !ok {
		return p.errf(&jpath{up: path, k: "op"}, "must be a string")
	}
	lv, ok1 := m.has("left")
	rv, ok2 := m.has("right")
	if !ok1 || !ok2 {
		return p.errf(path, "a match needs left and right")
	}
	l, err := p.leftOf(&jpath{up: path, k: "left"}, lv)
	if err != nil {
		return err
	}
	r.Terms = append(r.Terms, l.deps...)
	if l.unknown != "" {
		r.AddUnknown(l.unknown)
		x := r.Ext()
		x.Conds = append(x.Conds, condKey(fam, table, m))
		return nil
	}
	if len(l.ops) == 0 {
		r.AddUnknown("an empty expression")
		return nil
	}
	var fields []ruleset.Field
	if len(l.ops) == 1 {
		fields = ruleset.One(l.ops[0].field)
	} else {
		fields = make([]ruleset.Field, len(l.ops))
		for i, o := range l.ops {
			fields[i] = o.field
		}
	}
	term := ruleset.Term{Fields: fields, Mask: l.mask}
	flags := len(l.ops) == 1 && isFlags(l.ops[0].kind)
	elems, isSet, why, err := p.setElems(&jpath{up: path, k: "right"}, fam, table, rv)
	if err != nil {
		return err
	}
	if why != "" {
		r.AddUnknown(why)
		return nil
	}
	// A bitmask field compared with flags that are not a set: "in" tests
	// whether any of the flags is set, "==" and "!=" compare the whole value.
	if flags && !isSet {
		b, ok := flagValue(l.ops[0].kind, rv)
		if !ok {
			r.AddUnknown(fmt.Sprintf("%s value %s", l.ops[0].field, short(rv)))
			return nil
		}
		switch op {
		case "in":
			if l.masked {
				// (x & mask) has any of b: x & (mask & b) != 0
				b &= l.mask
			}
			term.Mask = b
			term.Set = []ruleset.Tuple{{ruleset.NumValue(0)}}
			term.Neg = true
		case "==", "!=":
			term.Set = []ruleset.Tuple{{ruleset.NumValue(b)}}
			term.Neg = op == "!="
		default:
			r.AddUnknown(fmt.Sprintf("%s %s", l.ops[0].field, op))
			return nil
		}
		r.Terms = append(r.Terms, term)
		return nil
	}
	switch op {
	case "==", "!=", "in":
		for _, e := range elems {
			t, why := p.tuple(l.ops, e)
			if why != "" {
				r.AddUnknown(why)
				return nil
			}
			term.Set = append(term.Set, t)
		}
		term.Neg = op == "!="
	case "<", ">", "<=", ">=", "lt", "gt", "le", "ge":
		if isSet || len(l.ops) != 1 {
			r.AddUnknown("a comparison with a set")
			return nil
		}
		x, why := p.scalar(l.ops[0], rv)
		if why != "" {
			r.AddUnknown(why)
			return nil
		}
		t, ok := compare(l.ops[0].kind, op, x)
		if !ok {
			r.AddUnknown(fmt.Sprintf("%s %s %s", l.ops[0].field, op, short(rv)))
			return nil
		}
		term.Set = []ruleset.Tuple{{t}}
	default:
		r.AddUnknown(fmt.Sprintf("operator %q", op))
		return nil
	}
	r.Terms = append(r.Terms, term)
	return nil
}

// compare turns "< x" and the like into a range.
func compare(k kind, op string, x ruleset.Value) (ruleset.Value, bool) {
	switch k {
	case kPort:
		if x.PLo != x.PHi {
			return x, false
		}
		v := x.PLo
		switch op {
		case "<", "lt":
			if v == 0 {
				return ruleset.Value{PLo: 1, PHi: 0}, true // empty
			}
			return ruleset.PortValue(0, v-1), true
		case "<=", "le":
			return ruleset.PortValue(0, v), true
		case ">", "gt":
			if v == 65535 {
				return ruleset.Value{PLo: 1, PHi: 0}, true
			}
			return ruleset.PortValue(v+1, 65535), true
		case ">=", "ge":
			return ruleset.PortValue(v, 65535), true
		}
	case kAddr4, kAddr6:
		if x.Lo != x.Hi {
			return x, false
		}
		v := x.Lo
		first := netip.IPv4Unspecified()
		last := netip.AddrFrom4([4]byte{255, 255, 255, 255})
		if k == kAddr6 {
			first = netip.IPv6Unspecified()
			last = netip.AddrFrom16([16]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})
		}
		switch op {
		case "<", "lt":
			if v == first {
				return ruleset.Value{Lo: last, Hi: first}, true // empty
			}
			return ruleset.AddrValue(first, v.Prev()), true
		case "<=", "le":
			return ruleset.AddrValue(first, v), true
		case ">", "gt":
			if v == last {
				return ruleset.Value{Lo: last, Hi: first}, true
			}
			return ruleset.AddrValue(v.Next(), last), true
		case ">=", "ge":
			return ruleset.AddrValue(v, last), true
		}
	}
	return x, false
}

func (p *parser) vmap(path *jpath, fam, table string, r *ruleset.Rule, v any) error {
	m, ok := v.(obj)
	if !ok {
		return p.errf(path, "must be an object")
	}
	l, err := p.leftOf(&jpath{up: path, k: "key"}, m.get("key"))
	if err != nil {
		return err
	}
	r.Terms = append(r.Terms, l.deps...)
	if l.unknown != "" || l.masked || len(l.ops) == 0 {
		why := l.unknown
		if why == "" {
			why = "a verdict map on a bitmask"
		}
		r.Verdict = unknownVerdict("verdict map keyed by " + why)
		return nil
	}
	var elems []any
	switch d := m.get("data").(type) {
	case string:
		if !strings.HasPrefix(d, "@") {
			return p.errf(&jpath{up: path, k: "data"}, "must be a set or @map")
		}
		def := p.sets[key(fam, table, d[1:])]
		if def == nil {
			return p.errf(&jpath{up: path, k: "data"}, "map %s does not exist in table %s %s", d, fam, table)
		}
		if !def.verdictMap {
			r.Verdict = unknownVerdict("vmap on a map that is not a verdict map")
			return nil
		}
		elems = def.elems
	case obj:
		s, ok := d.get("set").([]any)
		if !ok {
			return p.errf(&jpath{up: path, k: "data"}, `must be {"set": [...]} or "@map"`)
		}
		elems = s
	default:
		return p.errf(&jpath{up: path, k: "data"}, `must be {"set": [...]} or "@map"`)
	}
	vm := &ruleset.VMap{}
	for _, o := range l.ops {
		vm.Fields = append(vm.Fields, o.field)
	}
	for i, e := range elems {
		ep := &jpath{up: path, k: "data", i: i, idx: true}
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return p.errf(ep, "a map element must be [key, verdict]")
		}
		k, why := p.tuple(l.ops, pair[0])
		if why != "" {
			r.Verdict = unknownVerdict("verdict map with " + why)
			return nil
		}
		verdict, err := p.mapVerdict(&jpath{up: ep, i: 1, idx: true}, fam, table, pair[1])
		if err != nil {
			return err
		}
		vm.Elems = append(vm.Elems, ruleset.MapElem{Key: k, Verdict: verdict})
	}
	r.Ext().Map = vm
	r.Verdict = ruleset.Verdict{Kind: ruleset.Continue}
	return nil
}

func (p *parser) mapVerdict(path *jpath, fam, table string, v any) (ruleset.Verdict, error) {
	m, ok := v.(obj)
	if !ok || len(m) != 1 {
		return ruleset.Verdict{}, p.errf(path, "a verdict must be an object with one key")
	}
	for _, mem := range m {
		k, x := mem.k, mem.v
		switch k {
		case "accept":
			return ruleset.Verdict{Kind: ruleset.Accept}, nil
		case "drop":
			return ruleset.Verdict{Kind: ruleset.Drop}, nil
		case "reject":
			return ruleset.Verdict{Kind: ruleset.Reject}, nil
		case "return":
			return ruleset.Verdict{Kind: ruleset.Return}, nil
		case "continue":
			return ruleset.Verdict{Kind: ruleset.Continue}, nil
		case "jump", "goto":
			mm, _ := x.(obj)
			target, ok := str(mm, "target")
			if !ok {
				return ruleset.Verdict{}, p.errf(&jpath{up: path, k: k}, `needs {"target": CHAIN}`)
			}
			if p.chainNamed(fam, table, target) == nil {
				return ruleset.Verdict{}, p.errf(&jpath{up: &jpath{up: path, k: k}, k: "target"}, "chain %q does not exist in table %s %s", target, fam, table)
			}
			kd := ruleset.Jump
			if k == "goto" {
				kd = ruleset.Goto
			}
			return ruleset.Verdict{Kind: kd, Chain: target}, nil
		}
		return unknownVerdict(fmt.Sprintf("verdict %q", k)), nil
	}
	return ruleset.Verdict{}, nil
}
