package audit

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/audit/space"
	"github.com/portolan/portolan/model"
)

// program is a ruleset compiled for one address family.
type program struct {
	fam    int
	rs     *ruleset.Ruleset
	ifaces *space.Ifaces
	chains map[*ruleset.Chain]*cchain
	hooks  map[string][]entry
	// byID finds a compiled rule by its id (the tag of the holes it makes)
	byID []*crule
	// blind lists base chains portolan does not evaluate but that could
	// drop packets (ingress and egress, of netdev or inet tables).
	blind []*ruleset.Chain
	// natHooks: NAT chains exist for the family, so connection tracking
	// sets up a NAT binding (null or not) for every connection.
	natHooks bool
	// rest is the scratch a rule's crest is gathered in
	rest crest
	// the sets of one value, shared among the rules that test the same
	// address, port or interface (values are never changed in place)
	addrOne map[space.Range]*space.Addrs
	portOne map[model.PortRange]*model.PortSet
	ifOne   map[ifKey]space.IfSet
}

type ifKey struct {
	name   string
	prefix bool
}

// entry is one step of a hook: a base chain, or the NAT chains of the
// hook run together at the NAT priority.
type entry struct {
	hook  string
	chain *cchain   // a filter or route chain
	nat   []*cchain // the NAT chains, by priority (natPoint set)
	// natPoint: 0 none; dstNAT (prerouting, output) or srcNAT (input,
	// postrouting): where connection tracking rewrites addresses.
	natPoint int
	// noCT: the chain runs before connection tracking (priority below
	// -200 at prerouting and output): ct state is invalid there.
	noCT bool
}

const (
	dstNAT = 1
	srcNAT = 2
)

type cchain struct {
	src   *ruleset.Chain
	rules []*crule
}

// crule is a rule compiled for one family: its conditions on packet
// fields as sets, its conditions on fields with one value per kind of
// packet as tests. What few rules have is in crest, shared (noRest) by
// the rules that have none of it, so that a rule holds 88 bytes.
type crule struct {
	id    int32
	never bool // no packet of the family matches
	// inert: no verdict and no map: matching changes nothing
	inert bool
	// mutates: the rule sets what later conditions may read
	mutates bool
	// attaches a conntrack helper or timeout policy; template: even
	// before connection tracking
	attaches, template bool
	// protoOK and stateOK are the tests on the protocol (tcp, udp) and
	// the conntrack state, decided ahead: bit i set = value i passes.
	protoOK uint8
	stateOK uint8
	has     [space.NumDims]bool
	src     *ruleset.Rule // its verdict is the rule's
	target  *cchain
	*crest
	// saddr, daddr and sport, dport: sets shared by the rules that test
	// the same one value (nil where has is false)
	addr [2]*space.Addrs
	port [2]*model.PortSet
	ifs  *[2]space.IfSet // iifname, oifname; nil when the rule tests neither
}

// crest is what few compiled rules have.
type crest struct {
	consts []constTest
	multi  []multiTerm // concatenations
	// unknown: conditions not understood
	unknown []string
	vmap    []velem
	vfields []ruleset.Field
	// conds: the rule's unknown conditions, keyed, when all of them are
	conds []ruleset.Cond
}

// noRest is the crest of rules without any: never written.
var noRest crest

func (c *crest) empty() bool {
	return len(c.consts) == 0 && len(c.multi) == 0 && len(c.unknown) == 0 &&
		len(c.vmap) == 0 && len(c.vfields) == 0 && len(c.conds) == 0
}

type velem struct {
	key     []fieldSet
	verdict ruleset.Verdict
	target  *cchain
}

// fieldSet is the values of one field in a tuple: a set for a packet
// field, a test for the others.
type fieldSet struct {
	field ruleset.Field
	addr  space.Addrs
	port  model.PortSet
	ifs   space.IfSet
	num   []ruleset.Value
}

type multiTerm struct {
	fields []ruleset.Field
	tuples [][]fieldSet
	neg    bool
}

type constTest struct {
	field ruleset.Field
	mask  uint32
	vals  []ruleset.Value
	neg   bool
}

// slabLen is the most compiled rules of one array.
const slabLen = 4096

// hookOrder lists the hooks portolan follows packets through.
var hookOrder = []string{"prerouting", "input", "forward", "output", "postrouting"}

// natPrio is the priority NAT chains run at, per hook.
var natPrio = map[string]int{"prerouting": -100, "output": -100, "input": 100, "postrouting": 100}

func isIfField(f ruleset.Field) bool { return f == ruleset.IIfName || f == ruleset.OIfName }

// ifaceNames collects the interface names and prefixes a ruleset compares with.
func ifaceNames(rs *ruleset.Ruleset) (exact, prefixes []string) {
	add := func(f ruleset.Field, v ruleset.Value) {
		if !isIfField(f) {
			return
		}
		if v.Prefix {
			prefixes = append(prefixes, v.Name)
		} else {
			exact = append(exact, v.Name)
		}
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			for _, t := range r.Terms {
				if !slices.ContainsFunc(t.Fields, isIfField) {
					continue // its values need not be read
				}
				for _, tu := range t.Set {
					for i, v := range tu {
						if i < len(t.Fields) {
							add(t.Fields[i], v)
						}
					}
				}
			}
			if m := r.Map(); m != nil {
				for _, e := range m.Elems {
					for i, v := range e.Key {
						if i < len(m.Fields) {
							add(m.Fields[i], v)
						}
					}
				}
			}
		}
	}
	return exact, prefixes
}

// compile builds the program of one family. With drop, the terms of a
// rule of a chain only this family sees are freed once it is compiled
// (the other family's program never reads them).
func compile(rs *ruleset.Ruleset, fam int, ifaces *space.Ifaces, drop bool) (*program, error) {
	p := &program{fam: fam, rs: rs, ifaces: ifaces, chains: map[*ruleset.Chain]*cchain{}, hooks: map[string][]entry{},
		addrOne: map[space.Range]*space.Addrs{}, portOne: map[model.PortRange]*model.PortSet{}, ifOne: map[ifKey]space.IfSet{}}
	for _, c := range rs.Chains {
		if c.Family == "netdev" || (c.Base && !slices.Contains(hookOrder, c.Hook)) {
			if c.Base && mayDrop(c) {
				p.blind = append(p.blind, c)
			}
			continue
		}
		if !slices.Contains(c.Families(), fam) {
			continue
		}
		p.chains[c] = &cchain{src: c}
	}
	for c := range p.chains {
		if c.Base && c.Type == "nat" {
			p.natHooks = true
		}
	}
	n := 0
	for c := range p.chains {
		n += len(c.Rules)
	}
	// The compiled rules of all chains, in arrays of up to slabLen.
	var slab []crule
	var cr crule
	p.byID = make([]*crule, 0, n)
	for c, cc := range p.chains {
		cc.rules = make([]*crule, 0, len(c.Rules))
		own := drop && len(c.Families()) == 1
		for _, r := range c.Rules {
			if err := p.rule(&cr, r); err != nil {
				return nil, err
			}
			if own {
				r.Terms = nil
			}
			if cr.never && !cr.mutates && cr.target == nil && len(cr.vmap) == 0 {
				// matches no packet of the family and changes nothing:
				// evaluation would pass over it
				continue
			}
			if len(slab) == cap(slab) {
				slab = make([]crule, 0, min(n-len(p.byID), slabLen))
			}
			cr.id = int32(len(p.byID))
			slab = append(slab, cr)
			p.byID = append(p.byID, &slab[len(slab)-1])
			cc.rules = append(cc.rules, &slab[len(slab)-1])
		}
	}
	p.byID = slices.Clip(p.byID)
	p.addrOne, p.portOne, p.ifOne = nil, nil, nil // the sets stay, shared
	if err := p.checkLoops(); err != nil {
		return nil, err
	}
	// Hooks: base chains by priority, NAT chains together at the NAT
	// priority. Chains of equal priority run in the order they were made
	// (input order), as the kernel registers them.
	byHook := map[string][]*ruleset.Chain{}
	for _, c := range rs.Chains {
		if c.Base && p.chains[c] != nil {
			byHook[c.Hook] = append(byHook[c.Hook], c)
		}
	}
	for _, hook := range hookOrder {
		cs := byHook[hook]
		slices.SortStableFunc(cs, func(a, b *ruleset.Chain) int { return cmp.Compare(a.Prio, b.Prio) })
		var es []entry
		np, hasNAT := natPrio[hook]
		natDone := false
		var nat []*cchain
		for _, c := range cs {
			if c.Type == "nat" {
				nat = append(nat, p.chains[c])
			}
		}
		point := 0
		switch hook {
		case "prerouting", "output":
			point = dstNAT
		case "input", "postrouting":
			point = srcNAT
		}
		for _, c := range cs {
			if c.Type == "nat" {
				continue
			}
			if hasNAT && !natDone && c.Prio >= np {
				es = append(es, entry{hook: hook, nat: nat, natPoint: point})
				natDone = true
			}
			es = append(es, entry{hook: hook, chain: p.chains[c],
				noCT: (hook == "prerouting" || hook == "output") && c.Prio < -200})
		}
		if hasNAT && !natDone {
			es = append(es, entry{hook: hook, nat: nat, natPoint: point})
		}
		p.hooks[hook] = es
	}
	return p, nil
}

// checkLoops refuses a ruleset whose jumps and gotos lead back to a chain
// they came from: the kernel does not load one, and following it would
// never end.
func (p *program) checkLoops() error {
	const (
		unseen = iota
		open
		done
	)
	mark := map[*cchain]int{}
	var visit func(c *cchain) error
	visit = func(c *cchain) error {
		mark[c] = open
		for _, r := range c.rules {
			targets := []*cchain{r.target}
			for _, e := range r.vmap {
				targets = append(targets, e.target)
			}
			for _, t := range targets {
				if t == nil {
					continue
				}
				switch mark[t] {
				case open:
					return fmt.Errorf("%s leads back to chain %s: a loop, which the kernel refuses to load", r.src, t.src)
				case unseen:
					if err := visit(t); err != nil {
						return err
					}
				}
			}
		}
		mark[c] = done
		return nil
	}
	// In input order, so that the loop named is the same every run.
	for _, c := range p.rs.Chains {
		if cc := p.chains[c]; cc != nil && mark[cc] == unseen {
			if err := visit(cc); err != nil {
				return err
			}
		}
	}
	return nil
}

// mayDrop reports whether a chain can drop a packet.
func mayDrop(c *ruleset.Chain) bool {
	if c.Policy == ruleset.Drop {
		return true
	}
	for _, r := range c.Rules {
		switch r.Verdict.Kind {
		case ruleset.Accept, ruleset.Continue:
			if r.Map() != nil {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// rule compiles r into cr.
func (p *program) rule(cr *crule, r *ruleset.Rule) error {
	p.rest = crest{unknown: r.Unknown()}
	*cr = crule{src: r, crest: &p.rest}
	// A rule of the other family (ip saddr … in an inet chain) matches no
	// packet of this one: its other terms are not compiled.
	for _, t := range r.Terms {
		if len(t.Fields) == 1 && t.Fields[0] == ruleset.NfProto && !termTest(t, uint32(p.fam)) {
			cr.never = true
		}
	}
	// Tests on the protocol and the state become bitmasks.
	cr.protoOK, cr.stateOK = 0xff, 0xff
	if !cr.never {
		for _, t := range r.Terms {
			p.term(cr, t)
		}
	}
	switch r.Verdict.Kind {
	case ruleset.Jump, ruleset.Goto:
		t := p.rs.Lookup(r.Chain.Family, r.Chain.Table, r.Verdict.Chain)
		if t == nil || p.chains[t] == nil {
			return fmt.Errorf("%s: %s: chain %q does not exist", r.Chain, r, r.Verdict.Chain)
		}
		cr.target = p.chains[t]
	}
	m := r.Map()
	if m != nil {
		cr.vfields = m.Fields
		for _, e := range m.Elems {
			ve := velem{verdict: e.Verdict}
			ok := true
			for i, f := range m.Fields {
				fs, good := p.fieldSet(f, []ruleset.Value{e.Key[i]})
				if !good {
					ok = false
					break
				}
				ve.key = append(ve.key, fs)
			}
			if !ok {
				continue // an element of the other family
			}
			if e.Verdict.Kind == ruleset.Jump || e.Verdict.Kind == ruleset.Goto {
				t := p.rs.Lookup(r.Chain.Family, r.Chain.Table, e.Verdict.Chain)
				if t == nil || p.chains[t] == nil {
					return fmt.Errorf("%s: %s: chain %q does not exist", r.Chain, r, e.Verdict.Chain)
				}
				ve.target = p.chains[t]
			}
			cr.vmap = append(cr.vmap, ve)
		}
	}
	cr.inert = m == nil && r.Verdict.Kind == ruleset.Continue
	if x := r.X; x != nil {
		cr.mutates = x.Mutates
		cr.attaches = x.Helper != "" || x.Timeout != nil
		cr.template = x.Template
		if len(x.Conds) == len(r.Unknown()) {
			cr.conds = x.Conds
		}
	}
	if p.rest.empty() {
		cr.crest = &noRest
	} else {
		x := p.rest
		cr.crest = &x
	}
	return nil
}

// The protocols and states the audit's packets have, by bit.
var (
	protoValues = [...]uint32{ruleset.ProtoTCP, ruleset.ProtoUDP}
	stateValues = [...]uint32{ruleset.CtNew, ruleset.CtEstablished, ruleset.CtInvalid}
)

func protoBit(p uint32) uint8 {
	for i, v := range protoValues {
		if v == p {
			return 1 << i
		}
	}
	return 0
}

func stateBit(s uint32) uint8 {
	for i, v := range stateValues {
		if v == s {
			return 1 << i
		}
	}
	return 0
}

// fieldSet compiles the values of one field; ok is false when none is of
// this family (an address of the other family).
func (p *program) fieldSet(f ruleset.Field, vals []ruleset.Value) (fieldSet, bool) {
	fs := fieldSet{field: f}
	switch f {
	case ruleset.SrcAddr, ruleset.DstAddr:
		var rs []space.Range
		for _, v := range vals {
			if !v.Lo.IsValid() || (v.Lo.Is4() != (p.fam == 4)) {
				continue
			}
			rs = append(rs, space.AddrRange(v.Lo, v.Hi))
		}
		fs.addr = space.AddrsOf(rs...)
		return fs, len(rs) > 0 || len(vals) == 0
	case ruleset.SrcPort, ruleset.DstPort:
		for _, v := range vals {
			if v.PLo <= v.PHi {
				fs.port = fs.port.Add(model.PortRange{Lo: v.PLo, Hi: v.PHi})
			}
		}
	case ruleset.IIfName, ruleset.OIfName:
		fs.ifs = p.ifaces.Empty()
		for _, v := range vals {
			fs.ifs = fs.ifs.Union(p.ifaces.Match(v.Name, v.Prefix))
		}
	default:
		fs.num = vals
	}
	return fs, true
}

// oneValue is fieldSet of one value of a packet field (a dimension), its
// set shared with the rules before that test the same value.
func (p *program) oneValue(f ruleset.Field, v ruleset.Value) fieldSet {
	fs := fieldSet{field: f}
	switch f {
	case ruleset.SrcAddr, ruleset.DstAddr:
		if !v.Lo.IsValid() || (v.Lo.Is4() != (p.fam == 4)) {
			return fs // of the other family: no address
		}
		fs.addr = *p.oneAddr(space.AddrRange(v.Lo, v.Hi))
	case ruleset.SrcPort, ruleset.DstPort:
		if v.PLo <= v.PHi {
			fs.port = *p.onePort(model.PortRange{Lo: v.PLo, Hi: v.PHi})
		}
	case ruleset.IIfName, ruleset.OIfName:
		k := ifKey{v.Name, v.Prefix}
		s, ok := p.ifOne[k]
		if !ok {
			s = p.ifaces.Empty().Union(p.ifaces.Match(v.Name, v.Prefix))
			p.ifOne[k] = s
		}
		fs.ifs = s
	default:
		fs.num = []ruleset.Value{v}
	}
	return fs
}

// oneAddr is the shared set of the one range r.
func (p *program) oneAddr(r space.Range) *space.Addrs {
	a, ok := p.addrOne[r]
	if !ok {
		a = new(space.AddrsOf(r))
		p.addrOne[r] = a
	}
	return a
}

// onePort is the shared set of the one range r.
func (p *program) onePort(r model.PortRange) *model.PortSet {
	s, ok := p.portOne[r]
	if !ok {
		s = new(model.NewPortSet(r))
		p.portOne[r] = s
	}
	return s
}

// addrSet is s as a crule holds it: shared when it is one range.
func (p *program) addrSet(s space.Addrs) *space.Addrs {
	if rs := s.Ranges(); len(rs) == 1 {
		return p.oneAddr(rs[0])
	}
	x := s // on the heap only here: a pointer to s would move s there on every call
	return &x
}

// portSet is s as a crule holds it: shared when it is one range.
func (p *program) portSet(s model.PortSet) *model.PortSet {
	if rs := s.Ranges(); len(rs) == 1 {
		return p.onePort(rs[0])
	}
	x := s
	return &x
}

func dimOf(f ruleset.Field) int {
	return int(f) // SrcAddr..OIfName are 0..5, in space.Dim order
}

func (p *program) term(cr *crule, t ruleset.Term) {
	if len(t.Fields) == 1 {
		f := t.Fields[0]
		if !f.Dimensional() {
			switch f {
			case ruleset.NfProto:
				// decided by the family alone (in rule)
			case ruleset.L4Proto:
				// a bitmask of the protocols the audit's packets have
				for i, v := range protoValues {
					if !termTest(t, v) {
						cr.protoOK &^= 1 << i
					}
				}
			case ruleset.CtState:
				for i, v := range stateValues {
					if !termTest(t, v) {
						cr.stateOK &^= 1 << i
					}
				}
			default:
				vals := make([]ruleset.Value, 0, len(t.Set))
				for _, tu := range t.Set {
					vals = append(vals, tu[0])
				}
				cr.consts = append(cr.consts, constTest{field: f, mask: t.Mask, vals: vals, neg: t.Neg})
			}
			return
		}
		var fs fieldSet
		if len(t.Set) == 1 {
			fs = p.oneValue(f, t.Set[0][0])
		} else {
			vals := make([]ruleset.Value, 0, len(t.Set))
			for _, tu := range t.Set {
				vals = append(vals, tu[0])
			}
			fs, _ = p.fieldSet(f, vals)
		}
		d := dimOf(f)
		switch f {
		case ruleset.SrcAddr, ruleset.DstAddr:
			s := fs.addr
			if t.Neg {
				s = s.Complement(p.fam)
			}
			if cr.has[d] {
				s = s.Intersect(*cr.addr[d])
			}
			cr.addr[d] = p.addrSet(s)
		case ruleset.SrcPort, ruleset.DstPort:
			s := fs.port
			if t.Neg {
				s = space.AllPortsWithZero().Subtract(s)
			}
			if cr.has[d] {
				s = s.Intersect(*cr.port[d-2])
			}
			cr.port[d-2] = p.portSet(s)
		case ruleset.IIfName, ruleset.OIfName:
			s := fs.ifs
			if t.Neg {
				s = p.ifaces.All().Subtract(s)
			}
			if cr.has[d] {
				s = s.Intersect(cr.ifs[d-4])
			}
			if cr.ifs == nil {
				cr.ifs = new([2]space.IfSet)
			}
			cr.ifs[d-4] = s
		}
		cr.has[d] = true
		return
	}
	mt := multiTerm{fields: t.Fields, neg: t.Neg}
	for _, tu := range t.Set {
		var row []fieldSet
		ok := true
		for i, f := range t.Fields {
			fs, good := p.fieldSet(f, []ruleset.Value{tu[i]})
			if !good {
				ok = false
				break
			}
			row = append(row, fs)
		}
		if ok {
			mt.tuples = append(mt.tuples, row)
		}
	}
	cr.multi = append(cr.multi, mt)
}

// test reports whether value x passes the test.
func (c constTest) test(x uint32) bool {
	if c.mask != 0 {
		x &= c.mask
	}
	in := false
	for _, v := range c.vals {
		if numIn(v, x) {
			in = true
			break
		}
	}
	return in != c.neg
}

// termTest is constTest.test of a term on one field with one value per
// packet, read from the term's set as it is.
func termTest(t ruleset.Term, x uint32) bool {
	if t.Mask != 0 {
		x &= t.Mask
	}
	in := false
	for _, tu := range t.Set {
		if numIn(tu[0], x) {
			in = true
			break
		}
	}
	return in != t.Neg
}

func numIn(v ruleset.Value, x uint32) bool {
	if v.NumIsRange {
		return v.Num <= x && x <= v.NumHi
	}
	return v.Num == x
}

// ctx is what a kind of packet has at one step: the values of the fields
// that are not dimensions.
type ctx struct {
	protoBit uint8
	stateBit uint8
	proto    uint32
	ctState  uint32
	status   uint32
	known    uint32 // status bits known
	dir      uint32
	flags    uint32
	noCT     bool
}

// eval decides a test in a context: ok is false when the answer depends on
// what portolan does not know.
func (c constTest) eval(x ctx) (match, ok bool) {
	switch c.field {
	case ruleset.L4Proto:
		return c.test(x.proto), true
	case ruleset.CtState:
		return c.test(x.ctState), true
	case ruleset.CtStatus:
		if x.noCT {
			return false, true
		}
		m := c.mask
		if m == 0 {
			m = ^uint32(0)
		}
		if m&^x.known != 0 {
			return false, false
		}
		return c.test(x.status), true
	case ruleset.CtDirection:
		if x.noCT {
			return false, true
		}
		return c.test(x.dir), true
	case ruleset.TCPFlags:
		if x.proto != ruleset.ProtoTCP {
			return false, true
		}
		return c.test(x.flags), true
	}
	return false, false
}

// constMatch evaluates a rule's constant tests: false when one fails,
// unknown names a test portolan cannot decide.
func (cr *crule) constMatch(x ctx) (bool, string) {
	if cr.protoOK&x.protoBit == 0 || cr.stateOK&x.stateBit == 0 {
		return false, ""
	}
	if len(cr.consts) == 0 {
		return true, ""
	}
	unknown := ""
	for _, c := range cr.consts {
		m, ok := c.eval(x)
		if !ok {
			unknown = c.field.String() + " bits portolan does not know"
			continue
		}
		if !m {
			return false, ""
		}
	}
	return true, unknown
}
