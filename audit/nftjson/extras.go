package nftjson

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
)

// This file reads what does not change where a rule's packets go but
// that the audit needs all the same: keys for the conditions it does not
// model (the same key has the same answer for one packet), the conntrack
// helpers and timeout policies rules attach, the xt targets of
// iptables-nft, and dnat through a map.

// canon writes a JSON value in one canonical way, for keys.
func canon(b *strings.Builder, v any) {
	switch x := v.(type) {
	case obj:
		keys := make([]string, 0, len(x))
		for _, m := range x {
			keys = append(keys, m.k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			canon(b, x.get(k))
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			canon(b, e)
		}
		b.WriteByte(']')
	case string:
		b.WriteString(strconv.Quote(x))
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 0, 64); err == nil {
			b.WriteString(strconv.FormatInt(n, 10))
		} else {
			b.WriteString(string(x))
		}
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case nil:
		b.WriteString("null")
	default:
		fmt.Fprint(b, x)
	}
}

// condKey keys a match portolan does not model: its left side, operator
// and right side; "!=" is the negation of "==".
func condKey(fam, table string, m obj) ruleset.Cond {
	op, _ := str(m, "op")
	neg := op == "!="
	if op == "!=" || op == "==" || op == "in" {
		op = "=="
	}
	var b strings.Builder
	canon(&b, m.get("left"))
	b.WriteString(" " + op + " ")
	right := m.get("right")
	if s, ok := right.(string); ok && strings.HasPrefix(s, "@") {
		// a named set: the table's own
		right = fam + " " + table + " " + s
	}
	canon(&b, right)
	return ruleset.Cond{Key: b.String(), Neg: neg}
}

// ctObject is a ct helper or ct timeout object of a table.
type ctObject struct {
	typ    string // helper: its type ("sip")
	proto  string
	policy map[string]int
}

// ctObj reads a "ct helper" or "ct timeout" object.
func (p *parser) ctObj(kind string, o obj) {
	fam, _ := str(o, "family")
	table, _ := str(o, "table")
	name, _ := str(o, "name")
	c := &ctObject{}
	c.typ, _ = str(o, "type")
	c.proto, _ = str(o, "protocol")
	if pol, ok := o.get("policy").(obj); ok {
		c.policy = map[string]int{}
		for _, m := range pol {
			if n, ok := intOf(m.v); ok {
				c.policy[m.k] = int(n)
			}
		}
	}
	if p.ctObjs == nil {
		p.ctObjs = map[string]*ctObject{}
	}
	p.ctObjs[kind+"\x00"+key(fam, table, name)] = c
}

// ctAttach reads "ct helper set NAME" and "ct timeout set NAME".
func (p *parser) ctAttach(kind, fam, table string, r *ruleset.Rule, v any) {
	name, ok := v.(string)
	if !ok {
		name = "?"
	}
	o := p.ctObjs[kind+"\x00"+key(fam, table, name)]
	x := r.Ext()
	x.Mutates = true // a later ct helper match may read it
	if kind == "ct helper" {
		x.Helper = name
		if o != nil && o.typ != "" {
			x.Helper = o.typ
		}
		return
	}
	t := &ruleset.Timeout{Name: name}
	if o != nil {
		t.Proto, t.Policy = o.proto, o.policy
	}
	x.Timeout = t
}

// xtHarmless are the iptables targets that do not change where a packet
// goes; xtMutates those of them that set what a later match may read.
var (
	xtHarmless = map[string]bool{
		"LOG": true, "NFLOG": true, "ULOG": true, "TRACE": true, "MARK": true, "CONNMARK": true,
		"CLASSIFY": true, "DSCP": true, "TOS": true, "TTL": true, "HL": true, "TCPMSS": true,
		"CHECKSUM": true, "SECMARK": true, "CONNSECMARK": true, "AUDIT": true, "LED": true,
		"IDLETIMER": true, "SET": true, "RATEEST": true, "NFACCT": true, "counter": true,
	}
	xtMutates = map[string]bool{"MARK": true, "CONNMARK": true, "SET": true, "SECMARK": true, "CONNSECMARK": true}
)

// xt reads an iptables-nft extension, whose arguments nft does not print.
func (p *parser) xt(fam, table string, r *ruleset.Rule, v any) {
	m, _ := v.(obj)
	typ, _ := str(m, "type")
	name, _ := str(m, "name")
	t := fam + " " + table
	if p.xtSeen == nil {
		p.xtSeen = map[string]bool{}
	}
	if !p.xtSeen[t] {
		p.xtSeen[t] = true
		p.rs.Xt = append(p.rs.Xt, t)
	}
	why := fmt.Sprintf("xt %s %q (iptables-nft extension; nft does not print its arguments)", typ, name)
	if typ != "target" && typ != "watcher" {
		// Not keyed: two "xt match set" may name different sets.
		r.AddUnknown(why)
		return
	}
	switch {
	case xtHarmless[name]:
		if xtMutates[name] {
			r.Ext().Mutates = true
		}
	case name == "MASQUERADE":
		setVerdict(r, ruleset.Verdict{Kind: ruleset.SNAT, Why: "masquerade"})
	case name == "SNAT":
		setVerdict(r, ruleset.Verdict{Kind: ruleset.SNAT})
	case name == "REJECT":
		setVerdict(r, ruleset.Verdict{Kind: ruleset.Reject})
	case name == "REDIRECT":
		setVerdict(r, ruleset.Verdict{Kind: ruleset.Redirect})
	case name == "DNAT":
		setVerdict(r, ruleset.Verdict{Kind: ruleset.DNAT, Why: why})
	default:
		setVerdict(r, unknownVerdict(why))
	}
}

// dnatMap reads "dnat to KEY map { K : ADDR [. PORT], … }": the rule then
// works as a map whose elements are DNATs, and a key not in the map does
// not match (the kernel's lookup fails and the rule ends, untranslated).
// ok is false when the map is not of that shape.
func (p *parser) dnatMap(path *jpath, fam, table string, r *ruleset.Rule, v any) (bool, error) {
	d, _ := v.(obj)
	a, _ := d.get("addr").(obj)
	mp, _ := a.get("map").(obj)
	if mp == nil || len(a) != 1 {
		return false, nil
	}
	if _, ok := d.has("port"); ok {
		return false, nil
	}
	if _, ok := d.has("flags"); ok {
		return false, nil
	}
	l, err := p.leftOf(&jpath{up: path, k: "addr.map.key"}, mp.get("key"))
	if err != nil {
		return false, err
	}
	if l.unknown != "" || l.masked || len(l.ops) == 0 {
		return false, nil
	}
	var elems []any
	switch x := mp.get("data").(type) {
	case string:
		def := p.sets[key(fam, table, strings.TrimPrefix(x, "@"))]
		if def == nil || !def.isMap {
			return false, nil
		}
		elems = def.elems
	case obj:
		s, ok := x.get("set").([]any)
		if !ok {
			return false, nil
		}
		elems = s
	default:
		return false, nil
	}
	vm := &ruleset.VMap{}
	for _, o := range l.ops {
		vm.Fields = append(vm.Fields, o.field)
	}
	for _, e := range elems {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return false, nil
		}
		k, why := p.tuple(l.ops, pair[0])
		if why != "" {
			return false, nil
		}
		to, port, ok := natData(pair[1])
		if !ok {
			return false, nil
		}
		vm.Elems = append(vm.Elems, ruleset.MapElem{Key: k, Verdict: ruleset.Verdict{Kind: ruleset.DNAT, To: to, Port: port}})
	}
	r.Terms = append(r.Terms, l.deps...)
	r.Ext().Map = vm
	r.Verdict = ruleset.Verdict{Kind: ruleset.Continue}
	return true, nil
}

// natData reads the data of a dnat map element: ADDR or ADDR . PORT.
func natData(v any) (netip.Addr, uint16, bool) {
	if m, ok := v.(obj); ok {
		parts, ok := m.get("concat").([]any)
		if !ok || len(parts) != 2 {
			return netip.Addr{}, 0, false
		}
		a, _, ok := natData(parts[0])
		n, ok2 := intOf(parts[1])
		if !ok || !ok2 || n < 1 || n > 65535 {
			return netip.Addr{}, 0, false
		}
		return a, uint16(n), true
	}
	s, ok := v.(string)
	if !ok {
		return netip.Addr{}, 0, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return a.Unmap(), 0, true
}
