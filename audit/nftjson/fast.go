package nftjson

import (
	"net/netip"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
)

// The statements nft prints in nearly every rule are read straight from
// the text into what they do, without a tree of objects: a match of a
// payload or meta field with one address, port, name or protocol, a
// counter, a verdict without arguments. Anything else, or anything
// written otherwise (escapes, other operators, sets, errors), is read
// again from its start as generic JSON, so that the result and the errors
// are those of the generic reading.

// fastKind is what a statement read straight does.
type fastKind uint8

const (
	fastMatch   fastKind = iota // a term of one value, after its dependencies
	fastVerdict                 // a verdict without arguments
	fastNone                    // no effect on where the packet goes (counter)
)

// fastStmt is a statement read straight from the text.
type fastStmt struct {
	kind    fastKind
	verdict ruleset.Kind
	field   ruleset.Field
	deps    []ruleset.Term // shared, read only
	val     ruleset.Value
	// id numbers the matches the decoder made, from 1: statements of the
	// same text share one (see sharedStmt), which the parser knows by it
	id uint32
}

// sameStmts is how many statements read straight are remembered by their
// text, for an input of n bytes: nft's JSON repeats the same ones (tcp
// dport 53, ip saddr 192.0.2.1, counter) in many rules, which then share
// one fastStmt, read once.
func sameStmts(n int) int { return min(max(n/1024, 64), 4096) }

// sameStmt is a statement remembered: its text, in the input.
type sameStmt struct {
	text []byte
	st   *fastStmt
}

// maxSameLen bounds the text of a statement remembered.
const maxSameLen = 256

// sharedStmt is fastStmt for a statement read before with the same text,
// or read now and remembered.
func (d *decoder) sharedStmt() *fastStmt {
	start := d.pos
	end, h := d.stmtEnd()
	if end < 0 {
		return d.fastStmt()
	}
	if d.same == nil {
		d.same = make([]sameStmt, sameStmts(len(d.data)))
	}
	e := &d.same[h%uint(len(d.same))]
	text := d.data[start:end]
	if e.st != nil && string(e.text) == string(text) {
		d.pos = end
		return e.st
	}
	st := d.fastStmt()
	if st != nil && d.pos == end {
		*e = sameStmt{text: text, st: st}
	}
	return st
}

// stmtEnd finds the end of the object at d.pos, of plain strings and at
// most maxSameLen bytes, and a hash of its text; -1 when there is none
// such.
func (d *decoder) stmtEnd() (int, uint) {
	depth := 0
	h := uint(0)
	end := min(len(d.data), d.pos+maxSameLen)
	for i := d.pos; i < end; i++ {
		c := d.data[i]
		h = h*31 + uint(c)
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1, h
			}
		case '"':
			for i++; i < end && d.data[i] != '"'; i++ {
				if d.data[i] == '\\' {
					return -1, 0
				}
				h = h*31 + uint(d.data[i])
			}
		}
	}
	return -1, 0
}

var (
	fastCounter = &fastStmt{kind: fastNone}
	fastAccept  = &fastStmt{kind: fastVerdict, verdict: ruleset.Accept}
	fastDrop    = &fastStmt{kind: fastVerdict, verdict: ruleset.Drop}
	fastReturn  = &fastStmt{kind: fastVerdict, verdict: ruleset.Return}
	fastCont    = &fastStmt{kind: fastVerdict, verdict: ruleset.Continue}
)

// fastSlabLen is the rules of one slab of fastRule.
const fastSlabLen = 256

// exprArray is array for the "expr" list of a rule: each statement is
// read straight when it can be, as generic JSON otherwise.
func (d *decoder) exprArray() ([]any, error) {
	if d.depth++; d.depth > maxDepth {
		return nil, d.fail("nested too deeply")
	}
	base := len(d.elems)
	v, err := d.exprArrayBody(base)
	d.depth--
	d.elems = d.elems[:base]
	return v, err
}

// exprArrayBody reads the statements after base in d.elems.
func (d *decoder) exprArrayBody(base int) ([]any, error) {
	if err := d.elements(d.stmt); err != nil {
		return nil, err
	}
	if len(d.elems) == base {
		return []any{}, nil
	}
	return d.exprList(d.elems[base:]), nil
}

// stmt reads one statement: straight when it can, as generic JSON
// otherwise.
func (d *decoder) stmt() (any, error) {
	d.space()
	start := d.pos
	if st := d.sharedStmt(); st != nil {
		return st, nil
	}
	d.pos = start
	return d.value()
}

// exprList copies a rule's statements out, into a slab when few.
func (d *decoder) exprList(es []any) []any {
	n := len(es)
	if n > fastSlabLen/8 {
		return append(make([]any, 0, n), es...)
	}
	if n > len(d.lists) {
		d.lists = make([]any, fastSlabLen*4)
	}
	l := d.lists[:n:n]
	d.lists = d.lists[n:]
	copy(l, es)
	return l
}

// next skips space and reads byte c.
func (d *decoder) next(c byte) bool {
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// plainStr reads a string without escapes, control characters or bytes
// above 127, after space; nil when there is none such.
func (d *decoder) plainStr() []byte {
	d.space()
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil
	}
	for i := d.pos + 1; i < len(d.data); i++ {
		if c := d.data[i]; !plain[c] {
			if c != '"' || i-d.pos >= MaxString {
				return nil
			}
			s := d.data[d.pos+1 : i]
			d.pos = i + 1
			return s
		}
	}
	return nil
}

// plain are the bytes plainStr reads within a string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// key reads a plain string and the ':' after it.
func (d *decoder) key() []byte {
	k := d.plainStr()
	if k == nil || !d.next(':') {
		return nil
	}
	return k
}

// uint reads a non-negative integer of at most 9 digits after space; -1
// when there is none such.
func (d *decoder) uint() int {
	d.space()
	i := d.pos
	n := 0
	for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' && i-d.pos < 10 {
		n = n*10 + int(d.data[i]-'0')
		i++
	}
	switch {
	case i == d.pos, i-d.pos == 10, i-d.pos > 1 && d.data[d.pos] == '0':
		return -1
	case i < len(d.data) && (d.data[i] == '.' || d.data[i] == 'e' || d.data[i] == 'E'):
		return -1
	}
	d.pos = i
	return n
}

// fastStmt reads one statement straight, or returns nil (d.pos is then
// anywhere).
func (d *decoder) fastStmt() *fastStmt {
	if !d.next('{') {
		return nil
	}
	k := d.key()
	var st *fastStmt
	switch string(k) {
	case "match":
		st = d.fastMatch()
	case "counter":
		if d.fastCounter() {
			st = fastCounter
		}
	case "accept":
		st = fastAccept
	case "drop":
		st = fastDrop
	case "return":
		st = fastReturn
	case "continue":
		st = fastCont
	}
	if st != nil && st.kind == fastVerdict && !d.lit2("null") {
		return nil
	}
	if st == nil || !d.next('}') {
		return nil
	}
	return st
}

// lit2 is lit after space.
func (d *decoder) lit2(s string) bool {
	d.space()
	return d.lit(s)
}

// fastCounter reads a counter's {"bytes": N, "packets": N} or null.
func (d *decoder) fastCounter() bool {
	if d.lit2("null") {
		return true
	}
	if !d.next('{') {
		return false
	}
	for i := 0; ; i++ {
		if i == 0 && d.next('}') {
			return true
		}
		if d.key() == nil || d.uint() < 0 {
			return false
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// fastMatch reads {"left": L, "op": "==", "right": R} in any order, of a
// left side and a right side it knows.
func (d *decoder) fastMatch() *fastStmt {
	if !d.next('{') {
		return nil
	}
	var (
		l      left
		op     []byte
		r      right
		haveL  bool
		haveR  bool
		haveOp bool
	)
	for {
		switch string(d.key()) {
		case "left":
			if haveL {
				return nil
			}
			var ok bool
			if l, ok = d.fastLeft(); !ok {
				return nil
			}
			haveL = true
		case "op":
			if haveOp {
				return nil
			}
			if op = d.plainStr(); op == nil {
				return nil
			}
			haveOp = true
		case "right":
			if haveR {
				return nil
			}
			if !d.fastRight(&r) {
				return nil
			}
			haveR = true
		default:
			return nil
		}
		if d.next('}') {
			break
		}
		if !d.next(',') {
			return nil
		}
	}
	if !haveL || !haveOp || !haveR || string(op) != "==" || l.unknown != "" || len(l.ops) != 1 {
		return nil
	}
	o := l.ops[0]
	var v ruleset.Value
	switch r.form {
	case rightOne:
		var ok bool
		if v, ok = d.fastScalar(o.kind, r.a); !ok {
			return nil
		}
	case rightRange:
		lo, ok1 := d.fastScalar(o.kind, r.a)
		hi, ok2 := d.fastScalar(o.kind, r.b)
		switch {
		case !ok1 || !ok2:
			return nil
		case o.kind == kPort && hi.PHi >= lo.PLo:
			v = ruleset.PortValue(lo.PLo, hi.PHi)
		case (o.kind == kAddr4 || o.kind == kAddr6) && lo.Lo.BitLen() == hi.Lo.BitLen() && !hi.Hi.Less(lo.Lo):
			v = ruleset.AddrValue(lo.Lo, hi.Hi)
		default:
			return nil
		}
	case rightPrefix:
		if o.kind != kAddr4 && o.kind != kAddr6 || r.a.s == nil || r.b.n < 0 {
			return nil
		}
		a, ok := parseAddr(r.a.s)
		if !ok {
			return nil
		}
		a = a.Unmap()
		if r.b.n > a.BitLen() || (o.kind == kAddr4) != a.Is4() {
			return nil
		}
		v = ruleset.PrefixValue(netip.PrefixFrom(a, r.b.n))
	}
	d.stmts++
	return &fastStmt{kind: fastMatch, field: o.field, deps: l.deps, val: v, id: d.stmts}
}

// scalarText is a plain string s, or a non-negative integer n when s is
// nil.
type scalarText struct {
	s []byte
	n int
}

// right is a match's right side as fastRight reads it: one scalar a, a
// range of a and b, or a prefix of address a and length b.
type right struct {
	form rightForm
	a, b scalarText
}

type rightForm uint8

const (
	rightOne rightForm = iota
	rightRange
	rightPrefix
)

// scalar reads a plain string or a non-negative integer.
func (d *decoder) scalar(x *scalarText) bool {
	if d.peek() == '"' {
		x.s = d.plainStr()
		return x.s != nil
	}
	x.n = d.uint()
	return x.n >= 0
}

// fastRight reads a right side: a scalar, {"range": [A, B]} or {"prefix":
// {"addr": A, "len": N}}.
func (d *decoder) fastRight(r *right) bool {
	if d.peek() != '{' {
		r.form = rightOne
		return d.scalar(&r.a)
	}
	d.pos++
	switch string(d.key()) {
	case "range":
		r.form = rightRange
		if !d.next('[') || !d.scalar(&r.a) || !d.next(',') || !d.scalar(&r.b) || !d.next(']') {
			return false
		}
	case "prefix":
		r.form = rightPrefix
		if !d.next('{') {
			return false
		}
		haveA, haveN := false, false
		for {
			switch string(d.key()) {
			case "addr":
				if haveA || d.peek() != '"' || !d.scalar(&r.a) {
					return false
				}
				haveA = true
			case "len":
				if haveN || d.peek() == '"' || !d.scalar(&r.b) {
					return false
				}
				haveN = true
			default:
				return false
			}
			if d.next('}') {
				break
			}
			if !d.next(',') {
				return false
			}
		}
		if !haveA || !haveN {
			return false
		}
	default:
		return false
	}
	return d.next('}')
}

// fastScalar is parser.scalar for the values fastRight reads, where it
// finds a value (not a set's name).
func (d *decoder) fastScalar(k kind, x scalarText) (ruleset.Value, bool) {
	rs, rn := x.s, x.n
	switch {
	case rs != nil && (k == kAddr4 || k == kAddr6):
		a, ok := parseAddr(rs)
		if !ok || (k == kAddr4) != a.Unmap().Is4() {
			return ruleset.Value{}, false
		}
		return ruleset.AddrValue(a, a), true
	case rs == nil && k == kPort:
		if rn > 65535 {
			return ruleset.Value{}, false
		}
		return ruleset.PortValue(uint16(rn), uint16(rn)), true
	case rs != nil && k == kName:
		if len(rs) > 0 && rs[0] == '@' {
			return ruleset.Value{}, false
		}
		s := d.intern(rs, false).(string)
		if strings.HasSuffix(s, "*") {
			return ruleset.NameValue(strings.TrimSuffix(s, "*"), true), true
		}
		return ruleset.NameValue(s, false), true
	case rs != nil && k == kProto:
		n, known := ruleset.ProtoNumbers[string(rs)]
		if !known {
			return ruleset.Value{}, false
		}
		return ruleset.NumValue(n), true
	case rs == nil && k == kProto:
		if rn > 255 {
			return ruleset.Value{}, false
		}
		return ruleset.NumValue(uint32(rn)), true
	}
	return ruleset.Value{}, false
}

// parseAddr is netip.ParseAddr, without copying the text of an IPv4
// address.
func parseAddr(s []byte) (netip.Addr, bool) {
	if a, ok := parseIPv4(s); ok {
		return a, true
	}
	a, err := netip.ParseAddr(string(s))
	return a, err == nil
}

// fastLeft reads {"payload": {"protocol": P, "field": F}} or {"meta":
// {"key": K}}.
func (d *decoder) fastLeft() (left, bool) {
	if !d.next('{') {
		return left{}, false
	}
	var l left
	switch string(d.key()) {
	case "payload":
		if !d.next('{') {
			return left{}, false
		}
		var proto, field []byte
		for {
			switch string(d.key()) {
			case "protocol":
				if proto != nil {
					return left{}, false
				}
				if proto = d.plainStr(); proto == nil {
					return left{}, false
				}
			case "field":
				if field != nil {
					return left{}, false
				}
				if field = d.plainStr(); field == nil {
					return left{}, false
				}
			default:
				return left{}, false
			}
			if d.next('}') {
				break
			}
			if !d.next(',') {
				return left{}, false
			}
		}
		if proto == nil || field == nil {
			return left{}, false
		}
		l = d.payloadOf(proto, field)
	case "meta":
		if !d.next('{') {
			return left{}, false
		}
		if string(d.key()) != "key" {
			return left{}, false
		}
		k := d.plainStr()
		if k == nil || !d.next('}') {
			return left{}, false
		}
		l = metaOf(string(k))
	default:
		return left{}, false
	}
	if !d.next('}') {
		return left{}, false
	}
	return l, true
}

// payloadOf is payloadOf, remembered: nft's JSON loads a few fields
// (ip saddr, tcp dport) in most rules.
func (d *decoder) payloadOf(proto, field []byte) left {
	h := uint(len(proto))
	for _, c := range proto {
		h = h*31 + uint(c)
	}
	for _, c := range field {
		h = h*31 + uint(c)
	}
	e := &d.payloads[h%uint(len(d.payloads))]
	if e.ok && e.proto == string(proto) && e.field == string(field) {
		return e.l
	}
	p, f := d.intern(proto, false).(string), d.intern(field, false).(string)
	l := payloadOf(p, f)
	e.proto, e.field, e.l, e.ok = p, f, l, true
	return l
}

// parseIPv4 reads a dotted IPv4 address as netip.ParseAddr does.
func parseIPv4(s []byte) (netip.Addr, bool) {
	var a [4]byte
	i := 0
	for f := range 4 {
		if f > 0 {
			if i >= len(s) || s[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		n, start := 0, i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && i-start < 3 {
			n = n*10 + int(s[i]-'0')
			i++
		}
		if i == start || n > 255 || i-start > 1 && s[start] == '0' {
			return netip.Addr{}, false
		}
		a[f] = byte(n)
	}
	if i != len(s) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(a), true
}

// fastRule is a rule: an element {"rule": {...}} of the nftables array
// read straight from the text (its statements as exprArray reads them),
// or the members of one read as generic JSON.
type fastRule struct {
	family, table, chain string
	handle               int64
	comment              string
	hasComment           bool
	badExpr              bool // "expr" is missing or not a list
	expr                 []any
}

// straightRule is fastRule when d reads straight.
func (d *decoder) straightRule() *fastRule {
	if !d.straight {
		return nil
	}
	return d.fastRule()
}

// fastRule reads an element {"rule": {"family": F, "table": T, "chain":
// C, "handle": N, "comment": S, "expr": [...]}} straight, or returns nil
// (d.pos and d.depth are then anywhere).
func (d *decoder) fastRule() *fastRule {
	if !d.next('{') || string(d.key()) != "rule" || !d.next('{') {
		return nil
	}
	d.depth += 2 // as object does for the element and its body
	var f fastRule
	have := 0
	for {
		k := d.key()
		var bit int
		switch string(k) {
		case "family", "table", "chain":
			s := d.plainStr()
			if s == nil {
				return nil
			}
			v := d.intern(s, false).(string)
			switch k[0] {
			case 'f':
				f.family, bit = v, 1
			case 't':
				f.table, bit = v, 2
			default:
				f.chain, bit = v, 4
			}
		case "handle":
			n := d.uint()
			if n < 0 {
				return nil
			}
			f.handle, bit = int64(n), 8
		case "comment":
			s := d.plainStr()
			if s == nil {
				return nil
			}
			f.comment, f.hasComment, bit = string(s), true, 16
		case "expr":
			if d.peek() != '[' {
				return nil
			}
			v, err := d.exprArray()
			if err != nil {
				return nil
			}
			f.expr, bit = v, 32
		default:
			return nil
		}
		if have&bit != 0 {
			return nil
		}
		have |= bit
		if d.next('}') {
			break
		}
		if !d.next(',') {
			return nil
		}
	}
	if have&(1|2|4|32) != 1|2|4|32 || !d.next('}') {
		return nil
	}
	d.depth -= 2
	if len(d.rules) == 0 {
		d.rules = make([]fastRule, fastSlabLen)
	}
	r := &d.rules[0]
	d.rules = d.rules[1:]
	*r = f
	return r
}
