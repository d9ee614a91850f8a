// Package ruleset is the common model of a firewall ruleset that the audit
// reads: chains attached to netfilter hooks with priorities and policies,
// rules as conditions on packet fields and a verdict, whatever the syntax
// they were read from (nft JSON, iptables-save). Parsers build it; the
// audit evaluates it. Conditions a parser does not understand are kept as
// such on the rule, never dropped.
package ruleset

import (
	"fmt"
	"net/netip"
	"strings"
	"unsafe"
)

// Format names an input syntax.
type Format string

// Formats.
const (
	NftJSON      Format = "nft-json"
	IptablesSave Format = "iptables-save"
)

// Ruleset is every chain of a ruleset, in input order.
type Ruleset struct {
	Format Format
	Chains []*Chain
	// Families the ruleset speaks for (4, 6): nft covers both; an
	// iptables-save dump only the families it holds tables of.
	Families []int
	// Notes are things the parser left aside, for the report.
	Notes []string
	// Xt lists the tables ("ip filter") whose rules hold iptables-nft
	// extensions nft does not print the arguments of.
	Xt []string
}

// HasFamily reports whether the ruleset speaks for family fam.
func (r *Ruleset) HasFamily(fam int) bool {
	for _, f := range r.Families {
		if f == fam {
			return true
		}
	}
	return false
}

// Lookup returns the chain called name in the same family and table as c.
func (r *Ruleset) Lookup(family, table, name string) *Chain {
	for _, c := range r.Chains {
		if c.Family == family && c.Table == table && c.Name == name {
			return c
		}
	}
	return nil
}

// Chain is a chain of rules; a base chain is attached to a hook.
type Chain struct {
	Family string // ip, ip6, inet
	Table  string
	Name   string
	Base   bool
	Type   string // filter, nat, route
	Hook   string // prerouting, input, forward, output, postrouting
	Prio   int
	Policy Kind // Accept or Drop, for base chains
	Rules  []*Rule
	Pos    Pos
}

// Families returns the address families the chain sees packets of.
func (c *Chain) Families() []int {
	switch c.Family {
	case "ip":
		return []int{4}
	case "ip6":
		return []int{6}
	case "inet":
		return []int{4, 6}
	}
	return nil
}

// String names the chain: "inet filter forward", or "filter FORWARD".
func (c *Chain) String() string {
	if c.Family == "" {
		return c.Table + " " + c.Name
	}
	return c.Family + " " + c.Table + " " + c.Name
}

// Pos is where a rule or chain stands in the input.
type Pos struct {
	Handle int64  // nft handle (0 when none)
	Line   int    // line in the input (iptables-save), 0 when none
	Text   string // the rule as written (iptables-save), or empty
}

// Rule is a conjunction of terms and what happens to matching packets.
// What few rules have (conditions not understood, a verdict map, what the
// audit of constraints reads) is in X, so that a rule holds 144 bytes: a
// ruleset may hold 100k of them.
type Rule struct {
	Chain   *Chain
	Index   int // position in the chain, from 0
	Terms   []Term
	Verdict Verdict
	Pos     Pos
	// X holds what few rules have; nil when the rule has none of it.
	X *Extras
}

// Ext returns the rule's extras, made when absent.
func (r *Rule) Ext() *Extras {
	if r.X == nil {
		r.X = &Extras{}
	}
	return r.X
}

// Unknown lists the conditions the parser did not understand: the rule
// matches some unknown part of what its terms match.
func (r *Rule) Unknown() []string {
	if r.X == nil {
		return nil
	}
	return r.X.Unknown
}

// AddUnknown adds conditions the parser did not understand.
func (r *Rule) AddUnknown(desc ...string) {
	if len(desc) > 0 {
		x := r.Ext()
		x.Unknown = append(x.Unknown, desc...)
	}
}

// Map is the verdict map the rule's verdict comes from, or nil.
func (r *Rule) Map() *VMap {
	if r.X == nil {
		return nil
	}
	return r.X.Map
}

// String names the rule for reports: "handle 12" in nft chains, "line 14:
// -A FORWARD …" for iptables-save.
func (r *Rule) String() string {
	switch {
	case r.Pos.Line > 0 && r.Pos.Text != "":
		return fmt.Sprintf("line %d: %s", r.Pos.Line, r.Pos.Text)
	case r.Pos.Handle > 0:
		return fmt.Sprintf("%s handle %d", r.Chain, r.Pos.Handle)
	case r.Pos.Line > 0:
		return fmt.Sprintf("%s line %d", r.Chain, r.Pos.Line)
	}
	return fmt.Sprintf("%s rule %d", r.Chain, r.Index+1)
}

// Field is what a term looks at.
type Field uint8

// Fields. The first six are the dimensions of packet sets; the others
// have one value for a given kind of packet.
const (
	SrcAddr Field = iota
	DstAddr
	SrcPort
	DstPort
	IIfName
	OIfName
	L4Proto     // protocol number
	NfProto     // 4 or 6
	CtState     // one of the CtState* bits
	CtStatus    // CtStatus* bits
	CtDirection // 0 original, 1 reply
	TCPFlags    // TCP flag bits
)

var fieldNames = [...]string{"saddr", "daddr", "sport", "dport", "iifname", "oifname",
	"l4proto", "nfproto", "ct state", "ct status", "ct direction", "tcp flags"}

func (f Field) String() string {
	if int(f) < len(fieldNames) {
		return fieldNames[f]
	}
	return fmt.Sprintf("field%d", f)
}

// Dimensional reports whether the field is a dimension of packet sets.
func (f Field) Dimensional() bool { return f <= OIfName }

// Conntrack states as the kernel numbers them (NF_CT_STATE_*_BIT).
const (
	CtInvalid     = 1
	CtEstablished = 2
	CtRelated     = 4
	CtNew         = 8
	CtUntracked   = 64
)

// Conntrack status bits (IPS_*).
const (
	CtStatusExpected  = 1
	CtStatusSeenReply = 2
	CtStatusAssured   = 4
	CtStatusConfirmed = 8
	CtStatusSNAT      = 16
	CtStatusDNAT      = 32
	CtStatusSNATDone  = 128
	CtStatusDNATDone  = 256
)

// TCP flag bits.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// Protocol numbers.
const (
	ProtoTCP = 6
	ProtoUDP = 17
)

// ProtoNumbers are the numbers of the IP protocols nft and iptables name.
var ProtoNumbers = map[string]uint32{
	"hopopt": 0, "icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "udp": 17, "dccp": 33, "ipv6": 41,
	"ipv6-frag": 44, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "icmp6": 58,
	"ospf": 89, "pim": 103, "comp": 108, "vrrp": 112, "l2tp": 115, "sctp": 132, "udplite": 136,
}

// Term is one condition: the packet's value of Fields (several for a
// concatenation such as ip saddr . tcp dport) lies in one of the tuples of
// Set, or, with Neg, in none. For a field with one value per packet kind,
// Mask, when not zero, is applied to the value first.
type Term struct {
	Fields []Field
	Set    []Tuple
	Mask   uint32
	Neg    bool
}

// Tuple is one element of a term's set: one value per field.
type Tuple []Value

// Value is one element for one field: an address range, a port range, an
// interface name (a prefix when Prefix is set), or a number. (The fields
// are ordered for size: 80 bytes.)
type Value struct {
	Lo, Hi     netip.Addr
	Name       string
	Num        uint32
	NumHi      uint32
	PLo, PHi   uint16
	Prefix     bool
	NumIsRange bool
}

// AddrValue returns the value of an address range.
func AddrValue(lo, hi netip.Addr) Value { return Value{Lo: lo.Unmap(), Hi: hi.Unmap()} }

// PrefixValue returns the value of a prefix.
func PrefixValue(p netip.Prefix) Value {
	p = p.Masked()
	lo := p.Addr()
	hi := lastAddr(p)
	return Value{Lo: lo, Hi: hi}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// PortValue returns the value of a port range.
func PortValue(lo, hi uint16) Value { return Value{PLo: lo, PHi: hi} }

// NameValue returns the value of an interface name or prefix.
func NameValue(name string, prefix bool) Value { return Value{Name: name, Prefix: prefix} }

// NumValue returns a number.
func NumValue(n uint32) Value { return Value{Num: n} }

// fieldOf holds one of each field, for the Fields of terms on one field:
// they share it rather than each allocating its own (a slice of it has no
// room to grow, so an append copies).
var fieldOf = func() (fs [256]Field) {
	for i := range fs {
		fs[i] = Field(i)
	}
	return
}()

// One returns Fields of just f, shared.
func One(f Field) []Field { return fieldOf[f : f+1 : f+1] }

// single is the set of a term of one value, allocated at once.
type single struct {
	t [1]Tuple
	v [1]Value
}

// Single returns a term of one field and one set of values. Its set,
// tuples and values are allocated together: a ruleset holds a few of them
// per rule.
func Single(f Field, neg bool, vs ...Value) Term {
	t := Term{Fields: One(f), Neg: neg}
	switch len(vs) {
	case 0:
	case 1:
		x := &single{v: [1]Value{vs[0]}}
		x.t[0] = x.v[:]
		t.Set = x.t[:]
	default:
		vals := append([]Value(nil), vs...)
		t.Set = make([]Tuple, len(vals))
		for i := range vals {
			t.Set[i] = vals[i : i+1 : i+1]
		}
	}
	return t
}

// Kind is what a verdict does.
type Kind uint8

// Verdict kinds.
const (
	Continue Kind = iota // no verdict: the next rule
	Accept               // leave this base chain; the next one decides
	Drop                 // the packet is gone
	Reject               // gone, with an error sent back
	Jump                 // to Chain, then back
	Goto                 // to Chain, not back
	Return               // back to the caller, or the policy in a base chain
	DNAT                 // destination rewritten (nat chains)
	SNAT                 // source rewritten (snat, masquerade)
	Redirect             // destination rewritten to the router itself
	Unknown              // not understood (queue, xt targets…)
)

var kindNames = [...]string{"continue", "accept", "drop", "reject", "jump", "goto", "return",
	"dnat", "snat", "redirect", "unknown"}

func (k Kind) String() string { return kindNames[k] }

// Verdict is what a rule does with the packets it matches.
type Verdict struct {
	Chain string // Jump, Goto: the target chain's name
	// To is the address of DNAT (invalid when the rule's target is not one
	// fixed address); Port its port, 0 when unchanged.
	To netip.Addr
	// Why says what was not understood (Unknown), or describes a NAT
	// target portolan cannot follow.
	Why  string
	Port uint16
	Kind Kind // (last, beside Port: a rule is 176 bytes, not 192)
}

func (v Verdict) String() string {
	switch v.Kind {
	case Jump, Goto:
		return v.Kind.String() + " " + v.Chain
	case DNAT:
		if !v.To.IsValid() {
			return "dnat (" + v.Why + ")"
		}
		if v.Port != 0 {
			return fmt.Sprintf("dnat to %s", netip.AddrPortFrom(v.To, v.Port))
		}
		return "dnat to " + v.To.String()
	case Unknown:
		return "unknown (" + v.Why + ")"
	}
	return v.Kind.String()
}

// VMap is a verdict map: the verdict of the element the key falls in; no
// element, no verdict.
type VMap struct {
	Fields []Field
	Elems  []MapElem
}

// MapElem is one key of a verdict map and its verdict.
type MapElem struct {
	Key     Tuple
	Verdict Verdict
}

// Describe writes a term compactly for error messages and reports.
func (t Term) Describe() string {
	var names []string
	for _, f := range t.Fields {
		names = append(names, f.String())
	}
	op := "in"
	if t.Neg {
		op = "not in"
	}
	return fmt.Sprintf("%s %s %d values", strings.Join(names, " . "), op, len(t.Set))
}

// Cond is a condition of a rule that portolan does not model but that is a
// fixed function of the packet and its connection (an ipset, a ct mark, a
// match it does not read): the same Key has the same answer for one packet
// everywhere on its way, until a rule that Mutates state runs. Neg: the
// rule asks for the condition not to hold.
type Cond struct {
	Key string
	Neg bool
}

// SetRef is an ipset a rule matches (iptables -m set): Fields are the
// packet fields its flags name ("dst" DstAddr, "src,dst" …); Desc is the
// rule's Unknown entry for it, which a loaded set replaces by a term.
type SetRef struct {
	Name   string
	Fields []Field
	Neg    bool
	Desc   string
}

// Timeout is a conntrack timeout policy a rule attaches (nft ct timeout
// set, iptables -j CT --timeout): Policy maps a state (replied,
// established…) to seconds; empty when the policy is not in the ruleset.
type Timeout struct {
	Name   string
	Proto  string
	Policy map[string]int
}

// Extras are what few rules have: conditions not understood, a verdict
// map, and what does not change where its packets go but is kept for
// conditions that repeat and for the audit of constraints.
type Extras struct {
	// Unknown: see Rule.Unknown.
	Unknown []string
	// Map is set when the verdict comes from a verdict map (vmap).
	Map *VMap
	// Conds are the rule's keyed unknown conditions (a subset of Unknown).
	Conds []Cond
	// Mutates: the rule sets a mark, a connection label or a set that a
	// later condition may read.
	Mutates bool
	// Helper is the conntrack helper the rule attaches ("sip"), or "".
	Helper string
	// HelperOff says how to stop the rule attaching it, in the platform's
	// own terms ("/ip firewall service-port set sip disabled=yes"), for
	// readers of platforms other than nftables and iptables; "" for those.
	HelperOff string
	// Template: the helper or timeout is attached through a conntrack
	// template (iptables -j CT), which works only before connection
	// tracking (the raw table); nft's ct helper set and ct timeout set
	// work only after it, on a connection not yet confirmed.
	Template bool
	// Timeout is the conntrack timeout policy the rule attaches, or nil.
	Timeout *Timeout
	// Sets are the ipsets the rule matches.
	Sets []SetRef
}

// Interner shares what the rules of a ruleset hold many times over: the
// set of a term of one value (an address, a port, a protocol) among all
// terms of that value, and the Fields of terms on one field. Parsers pass
// each rule through Rule once it is read. Sets are never changed in place
// (a shared one has no room to grow, so an append copies), so sharing them
// changes nothing but memory. The zero Interner is ready to use.
type Interner struct {
	sets map[Value][]Tuple
	// the common kinds of value by a smaller key, cheaper to hash
	addrs map[[2]netip.Addr][]Tuple // address ranges
	nums  map[uint64][]Tuple        // port ranges (bit 63 set) and numbers
	// slab is where the rules' Terms arrays are cut from, termSlab at a
	// time: a rule holds a few terms, and one allocation for each would
	// cost more than its terms.
	slab []Term
}

// termSlab is how many terms the Interner allocates at once: as many as
// 64 KiB hold, so that the allocation wastes no part of a page.
const termSlab = 64 << 10 / int(unsafe.Sizeof(Term{}))

// Rule shares the terms' sets and fields of r with those of the rules
// before it, and gives r.Terms an array of its own of its length: a parser
// may gather them in scratch space it reuses.
func (in *Interner) Rule(r *Rule) {
	in.Keep(r)
	for i := range r.Terms {
		in.term(&r.Terms[i])
	}
}

// Keep is Rule for a parser that made every term of one value through
// Single: it only gives r.Terms an array of its own of its length, without
// looking their sets up again. The array has no room to grow: an append
// to it copies.
func (in *Interner) Keep(r *Rule) {
	n := len(r.Terms)
	switch {
	case n == 0:
		r.Terms = nil
		return
	case n > termSlab/8:
		// a rule of many terms: an array of its own rather than leave
		// much of a slab unused
		r.Terms = append(make([]Term, 0, n), r.Terms...)
		return
	case n > len(in.slab):
		in.slab = make([]Term, termSlab)
	}
	t := in.slab[:n:n]
	in.slab = in.slab[n:]
	copy(t, r.Terms)
	r.Terms = t
}

// Single is the package's Single, with the set of one value shared.
func (in *Interner) Single(f Field, neg bool, vs ...Value) Term {
	if len(vs) != 1 {
		return Single(f, neg, vs...)
	}
	return Term{Fields: One(f), Neg: neg, Set: in.set(vs[0])}
}

func (in *Interner) term(t *Term) {
	if len(t.Fields) == 1 {
		t.Fields = One(t.Fields[0])
	}
	if len(t.Set) != 1 || len(t.Set[0]) != 1 {
		return
	}
	t.Set = in.set(t.Set[0][0])
}

// set returns the shared set of one tuple of value v.
func (in *Interner) set(v Value) []Tuple {
	var s []Tuple
	var ok bool
	switch {
	case v.Lo.IsValid() && v == Value{Lo: v.Lo, Hi: v.Hi}:
		// an address range
		k := [2]netip.Addr{v.Lo, v.Hi}
		if s, ok = in.addrs[k]; !ok {
			if in.addrs == nil {
				in.addrs = map[[2]netip.Addr][]Tuple{}
			}
			s = oneSet(v)
			in.addrs[k] = s
		}
	case v == Value{PLo: v.PLo, PHi: v.PHi} || v == Value{Num: v.Num}:
		// a port range, or a number
		k := uint64(v.Num)
		if v.PLo != 0 || v.PHi != 0 {
			k = 1<<63 | uint64(v.PLo)<<16 | uint64(v.PHi)
		}
		if s, ok = in.nums[k]; !ok {
			if in.nums == nil {
				in.nums = map[uint64][]Tuple{}
			}
			s = oneSet(v)
			in.nums[k] = s
		}
	default:
		if s, ok = in.sets[v]; !ok {
			if in.sets == nil {
				in.sets = map[Value][]Tuple{}
			}
			s = oneSet(v)
			in.sets[v] = s
		}
	}
	return s
}

// oneSet is the set of one tuple of value v, allocated at once.
func oneSet(v Value) []Tuple {
	x := &single{v: [1]Value{v}}
	x.t[0] = x.v[:]
	return x.t[:]
}
