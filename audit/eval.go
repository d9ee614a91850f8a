package audit

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/audit/space"
	"github.com/portolan/portolan/model"
)

// Packet kinds the audit follows for each flow: the first packet, the
// first reply, and the packets after those in the original direction.
type pktKind uint8

const (
	origNew pktKind = iota
	replyEst
	origEst
)

var kindNames = [...]string{"new", "reply", "established"}

func (k pktKind) String() string { return kindNames[k] }

// natState is what connection tracking rewrites for a connection.
type natState struct {
	dnat     bool
	to       netip.Addr
	toU      space.U128
	port     uint16
	dnatRule *ruleset.Rule
	snat     bool
	snatRule *ruleset.Rule
}

func (n *natState) same(m *natState) bool {
	if n == nil || m == nil {
		return n == m
	}
	return n.dnat == m.dnat && n.to == m.to && n.port == m.port && n.snat == m.snat
}

// step is one base chain's decision on a packet.
type step struct {
	prev    *step
	chain   *ruleset.Chain
	rule    *ruleset.Rule // nil: the chain's policy
	verdict ruleset.Kind
}

// steps lists a trail oldest first.
func (s *step) steps() []*step {
	var out []*step
	for ; s != nil; s = s.prev {
		out = append(out, s)
	}
	slices.Reverse(out)
	return out
}

// result is how a part of a flow's packets ends.
type result uint8

const (
	accepted result = iota
	dropped
	diverted // sent elsewhere by NAT, or not forwarded
	unknown
)

var resultNames = [...]string{"accepted", "dropped", "diverted", "unknown"}

func (r result) String() string { return resultNames[r] }

// outcome is a part of a flow's packet space (in the coordinates of the
// flow's first packet) and how it ends.
type outcome struct {
	reg    space.Region
	res    result
	kind   pktKind
	reject bool
	rule   *ruleset.Rule  // the deciding rule, nil for a policy or none
	chain  *ruleset.Chain // the chain whose policy decided, when rule is nil
	why    string
	nat    *natState
	trail  *step
	// first is the first packet's trail, for parts decided later
	first *step
	// replyBy and laterBy decided the reply and the packets after, for
	// accepted parts
	replyBy, laterBy *step
}

// path is the hooks a kind of packet of a flow crosses.
type path struct {
	entries []entry
	routeAt int // first entry after the routing decision, -1 for none
	dstIdx  int // the entry where destinations are rewritten
	srcIdx  int // the entry where sources are rewritten
	// expect: the DNAT a gateway's inbound flow needs; invalid otherwise.
	expect netip.Addr
	// anyDNAT takes any DNAT as the forward an inbound flow needs (the
	// kernel tests use it to follow packets wherever NAT sends them).
	anyDNAT bool
}

func (p *program) path(hooks ...string) *path {
	pa := &path{routeAt: -1, dstIdx: -1, srcIdx: -1}
	for i, h := range hooks {
		if i == 1 {
			pa.routeAt = len(pa.entries)
		}
		for _, e := range p.hooks[h] {
			switch e.natPoint {
			case dstNAT:
				pa.dstIdx = len(pa.entries)
			case srcNAT:
				pa.srcIdx = len(pa.entries)
			}
			pa.entries = append(pa.entries, e)
		}
	}
	return pa
}

// frame is a return address of a jump.
type frame struct {
	prev  *frame
	chain *cchain
	pos   int
	depth int
}

// state is where a set of packets is on its path; packets in one state
// share their NAT and their trail.
type state struct {
	kind   pktKind
	entry  int
	natIdx int
	routed bool
	chain  *cchain
	base   *cchain
	pos    int
	stack  *frame
	nat    *natState
	trail  *step
	unc    int // how deep in uncertain branches
	// asm is what this branch took conditions portolan does not model to
	// answer: the same condition answers alike for one packet.
	asm *assumption
	v   view
	x   ctx
}

// assumption is one answer a branch took an unmodelled condition to give,
// on a list of them.
type assumption struct {
	prev *assumption
	key  string
	val  bool
}

// lookup returns the answer taken for key, if any.
func (a *assumption) lookup(key string) (val, ok bool) {
	for ; a != nil; a = a.prev {
		if a.key == key {
			return a.val, true
		}
	}
	return false, false
}

// with returns the list with key taken to answer val.
func (a *assumption) with(key string, val bool) *assumption {
	return &assumption{prev: a, key: key, val: val}
}

// condsHold says what the assumptions make of a rule's keyed conditions:
// 1 all hold, -1 one fails, 0 some are open (listed).
func (a *assumption) condsHold(cs []ruleset.Cond) (int, []ruleset.Cond) {
	var open []ruleset.Cond
	for _, c := range cs {
		v, ok := a.lookup(c.Key)
		if !ok {
			open = append(open, c)
			continue
		}
		if v == c.Neg {
			return -1, nil
		}
	}
	if len(open) == 0 {
		return 1, nil
	}
	return 0, open
}

// Where a packet field comes from in the flow's coordinates.
const (
	fromConst  = -1 // a fixed value (after NAT, or no interface)
	fromOpaque = -2 // unknown (after masquerade)
)

// view maps the fields a rule reads (saddr, daddr, sport, dport, iif,
// oif) to the dimensions of the flow's cube at one step of the path.
type view struct {
	dim   [space.NumDims]int8
	cAddr [2]space.U128
	cPort [2]uint16
	cIf   [2]int
}

const maxUncertain = 6
const maxDepth = 64

type evaluator struct {
	p      *program
	pa     *path // the path of the kind being run
	full   space.Cube
	none   int         // class of "no interface"
	noIf   space.IfSet // the set of that class
	shadow *shadows
	// obs is shadow even in uncertain branches: for what rules attach
	obs  *shadows
	kind pktKind
	// emit takes each outcome as it is decided, in order: a run's
	// outcomes need not be held as a list.
	emit func(outcome)
	// bufs are lists of regions done with, for split's lists of matched
	// regions: most rules a region meets take a part of it.
	bufs [][]space.Region
}

// buf returns an empty list of regions, reused if one is free.
func (e *evaluator) buf() []space.Region {
	n := len(e.bufs)
	if n == 0 {
		return nil
	}
	b := e.bufs[n-1]
	e.bufs = e.bufs[:n-1]
	return b
}

// free gives back a list of regions no one reads any more (its regions
// let go of, not to keep their holes alive).
func (e *evaluator) free(b []space.Region) {
	if cap(b) == 0 {
		return
	}
	clear(b)
	e.bufs = append(e.bufs, b[:0])
}

// shadows collects rules a flow never reaches because an earlier rule
// decided.
type shadows struct {
	max  int
	list []shadowed
	seen map[*ruleset.Rule]bool
	more bool
	// reached: rules that matched some of the flow's first packets; from:
	// the shadows of the flow's evaluations, which say it for them
	reached map[*ruleset.Rule]bool
	from    []*shadows
	// unsure: rules (by id) whose match was uncertain: what they took
	// from a region does not shadow later rules.
	unsure map[int32]bool
	// helpers and timeouts: rules attaching a conntrack helper or timeout
	// that matched some first packets (true) or may have (false).
	helpers map[*ruleset.Rule]bool
}

// result lists the rules no first packet of the flow reaches.
func (sh *shadows) result() []shadowed {
	var out []shadowed
	for _, s := range sh.list {
		if !sh.wasReached(s.rule) {
			out = append(out, s)
		}
	}
	return out
}

// wasReached reports whether rule r matched some of the flow's first
// packets.
func (sh *shadows) wasReached(r *ruleset.Rule) bool {
	if sh.reached[r] {
		return true
	}
	for _, f := range sh.from {
		if f.reached[r] {
			return true
		}
	}
	return false
}

type shadowed struct {
	rule *ruleset.Rule
	by   *ruleset.Rule // nil: by a policy (not recorded) or a return
}

func (e *evaluator) makeView(st *state) view {
	en := e.pa.entries[st.entry]
	afterDst := e.pa.dstIdx >= 0 && st.entry > e.pa.dstIdx
	afterSrc := e.pa.srcIdx >= 0 && st.entry > e.pa.srcIdx
	n := st.nat
	var v view
	var hasIn, hasOut bool
	switch en.hook {
	case "prerouting", "input":
		hasIn = true
	case "forward":
		hasIn, hasOut = true, true
	case "output", "postrouting":
		hasOut = true
	}
	if st.kind == replyEst {
		v.dim = [space.NumDims]int8{int8(space.Dst), int8(space.Src), int8(space.DPort), int8(space.SPort), int8(space.OIf), int8(space.IIf)}
		if n != nil && n.dnat && !afterSrc {
			v.dim[0], v.cAddr[0] = fromConst, n.toU
			if n.port != 0 {
				v.dim[2], v.cPort[0] = fromConst, n.port
			}
		}
		if n != nil && n.snat && !afterDst {
			v.dim[1], v.dim[3] = fromOpaque, fromOpaque
		}
	} else {
		v.dim = [space.NumDims]int8{int8(space.Src), int8(space.Dst), int8(space.SPort), int8(space.DPort), int8(space.IIf), int8(space.OIf)}
		if n != nil && n.dnat && afterDst {
			v.dim[1], v.cAddr[1] = fromConst, n.toU
			if n.port != 0 {
				v.dim[3], v.cPort[1] = fromConst, n.port
			}
		}
		if n != nil && n.snat && afterSrc {
			v.dim[0], v.dim[2] = fromOpaque, fromOpaque
		}
	}
	if !hasIn {
		v.dim[4], v.cIf[0] = fromConst, e.none
	}
	if !hasOut {
		v.dim[5], v.cIf[1] = fromConst, e.none
	}
	return v
}

func (e *evaluator) makeCtx(st *state, proto uint32) ctx {
	en := e.pa.entries[st.entry]
	x := ctx{proto: proto, noCT: en.noCT}
	n := st.nat
	var natBits uint32
	if n != nil && n.dnat {
		natBits |= ruleset.CtStatusDNAT
	}
	if n != nil && n.snat {
		natBits |= ruleset.CtStatusSNAT
	}
	// With NAT chains for the family every connection gets a binding: a
	// "done" bit per NAT point passed.
	if e.p.natHooks {
		if st.kind != origNew || (e.pa.dstIdx >= 0 && st.entry > e.pa.dstIdx) {
			natBits |= ruleset.CtStatusDNATDone
		}
		if st.kind != origNew || (e.pa.srcIdx >= 0 && st.entry > e.pa.srcIdx) {
			natBits |= ruleset.CtStatusSNATDone
		}
	}
	// All status bits are known for a new connection. TCP connections
	// become "assured" with the ACK that completes the handshake; UDP ones
	// once they have lasted two seconds, which portolan cannot know.
	later := ^uint32(0)
	if proto != ruleset.ProtoTCP {
		later = ^uint32(ruleset.CtStatusAssured)
	}
	switch st.kind {
	case origNew:
		x.ctState = ruleset.CtNew
		x.status, x.known = natBits, ^uint32(0)
		x.flags = ruleset.TCPSyn
	case replyEst:
		x.ctState = ruleset.CtEstablished
		x.status = natBits | ruleset.CtStatusConfirmed | ruleset.CtStatusSeenReply
		x.known = later
		x.dir = 1
		x.flags = ruleset.TCPSyn | ruleset.TCPAck
	case origEst:
		x.ctState = ruleset.CtEstablished
		x.status = natBits | ruleset.CtStatusConfirmed | ruleset.CtStatusSeenReply
		if proto == ruleset.ProtoTCP {
			x.status |= ruleset.CtStatusAssured
		}
		x.known = later
		x.flags = ruleset.TCPAck
	}
	if proto != ruleset.ProtoTCP {
		x.flags = 0
	}
	if x.noCT {
		x.ctState = ruleset.CtInvalid
	}
	x.protoBit, x.stateBit = protoBit(x.proto), stateBit(x.ctState)
	return x
}

// walk follows regions from state st to the end of the path and gives
// how each part ends to e.emit as soon as it is decided. It owns the
// regions: it adds holes to them.
func (e *evaluator) walk(regs []space.Region, st state, proto uint32) {
	// ghosts are regions rules took whole: the rest of the chain is only
	// checked against them for rules they shadow.
	var ghosts []space.Region
	for len(regs) > 0 {
		if st.chain == nil {
			if st.entry == len(e.pa.entries) {
				e.finish(regs, &st)
				return
			}
			if st.entry == e.pa.routeAt && !st.routed && st.kind == origNew {
				regs = e.route(regs, &st)
				st.routed = true
				continue
			}
			en := e.pa.entries[st.entry]
			if en.chain != nil {
				st.chain, st.base = en.chain, en.chain
			} else {
				if st.kind != origNew || st.natIdx >= len(en.nat) {
					st.entry++
					st.natIdx = 0
					continue
				}
				st.chain, st.base = en.nat[st.natIdx], en.nat[st.natIdx]
			}
			st.pos, st.stack = 0, nil
			st.v = e.makeView(&st)
			st.x = e.makeCtx(&st, proto)
		}
		rules := st.chain.rules
		for st.pos < len(rules) && (len(regs) > 0 || len(ghosts) > 0) {
			r := rules[st.pos]
			st.pos++
			if r.mutates {
				st.asm = nil // a later condition may read what it sets
			}
			if (r.inert && !r.attaches) || r.never {
				continue
			}
			ok, unc := r.constMatch(st.x)
			if !ok {
				continue
			}
			held, open := 0, []ruleset.Cond(nil)
			if len(r.conds) > 0 {
				if held, open = st.asm.condsHold(r.conds); held < 0 {
					continue // this branch took a condition of it to fail
				}
			}
			if len(ghosts) > 0 {
				ghosts = e.ghostScan(ghosts, r, &st)
			}
			if len(regs) == 0 {
				continue
			}
			var in, spent []space.Region
			var why string
			regs, in, spent, why = e.split(regs, r, &st)
			onlyConds := unc == "" && why == ""
			if unc == "" {
				unc = why
			}
			if unc == "" && len(r.unknown) > 0 && held <= 0 {
				unc = r.unknown[0]
				if len(open) > 0 {
					unc = condWhy(r, open[0])
				}
			}
			if e.shadow != nil && st.kind == origNew {
				if unc == "" && !r.inert {
					ghosts = append(ghosts, spent...)
				} else if len(in) > 0 {
					e.shadow.unsure[r.id] = true
				}
			}
			if len(in) == 0 {
				e.free(in)
				continue
			}
			if e.shadow != nil && st.kind == origNew {
				e.shadow.reached[r.src] = true
			}
			if r.attaches && st.kind == origNew && e.obs != nil && r.template == e.pa.entries[st.entry].noCT {
				e.noteAttach(r, unc == "" && st.unc == 0)
			}
			if unc != "" {
				if len(r.conds) == 0 || held > 0 {
					open, onlyConds = nil, false
				}
				if len(r.conds) > 0 && len(r.conds) != len(r.unknown) {
					onlyConds = false
				}
				e.uncertain(in, r, st, unc, proto, open, onlyConds)
			} else {
				e.apply(in, r, st, proto)
			}
			e.free(in)
		}
		if len(regs) == 0 {
			return
		}
		if st.stack != nil {
			st.chain, st.pos, st.stack = st.stack.chain, st.stack.pos, st.stack.prev
			continue
		}
		e.policy(regs, st, proto)
		return
	}
}

func whole(cs []space.Cube) []space.Region {
	out := make([]space.Region, len(cs))
	for i, c := range cs {
		out[i] = space.Whole(c)
	}
	return out
}

// policy ends a base chain.
func (e *evaluator) policy(regs []space.Region, st state, proto uint32) {
	c := st.base.src
	if c.Policy == ruleset.Drop {
		e.decide(regs, &st, dropped, nil, c, "")
		return
	}
	e.next(regs, st, &step{prev: st.trail, chain: c, verdict: ruleset.Accept}, proto)
}

// next moves regions accepted by a base chain on to the next one.
func (e *evaluator) next(regs []space.Region, st state, s *step, proto uint32) {
	st.trail = s
	if e.pa.entries[st.entry].chain == nil {
		st.natIdx++
	} else {
		st.entry++
	}
	st.chain, st.stack = nil, nil
	e.walk(regs, st, proto)
}

func (e *evaluator) decide(regs []space.Region, st *state, res result, r *ruleset.Rule, c *ruleset.Chain, why string) {
	for _, g := range regs {
		e.emit(outcome{reg: g, res: res, kind: st.kind, rule: r, chain: c, why: why, nat: st.nat, trail: st.trail})
	}
}

func (e *evaluator) finish(regs []space.Region, st *state) {
	if len(e.p.blind) > 0 {
		e.decide(regs, st, unknown, nil, e.p.blind[0],
			"the "+e.p.blind[0].String()+" chain ("+e.p.blind[0].Hook+") is not evaluated and may drop it")
		return
	}
	e.decide(regs, st, accepted, nil, nil, "")
}

// route checks, after the first hook, where NAT sent the packets: a
// gateway's inbound flow must be forwarded to its local address with the
// port unchanged; other flows must not be redirected.
func (e *evaluator) route(regs []space.Region, st *state) []space.Region {
	n := st.nat
	exp := e.pa.expect
	if e.pa.anyDNAT {
		if n == nil || !n.dnat {
			e.decide(regs, st, diverted, nil, nil, "not forwarded: no DNAT")
			return nil
		}
		return regs
	}
	// split divides the regions by a cube of packets that go on. The parts
	// share their holes: each only ever gains holes inside its own base.
	split := func(keep space.Cube) (ok, bad []space.Region) {
		for _, g := range regs {
			in := g.Intersect(keep)
			if !in.Base.Empty() {
				ok = append(ok, in)
			}
			for _, c := range g.Base.Subtract(keep) {
				bad = append(bad, space.Region{Base: c, Holes: g.Holes})
			}
		}
		return ok, bad
	}
	if exp.IsValid() {
		if n == nil || !n.dnat {
			e.decide(regs, st, diverted, nil, nil, "not forwarded: no DNAT to "+exp.String()+" (the packet would go to the firewall itself)")
			return nil
		}
		if n.to != exp {
			e.decide(regs, st, diverted, n.dnatRule, nil, "forwarded to "+n.to.String()+", not "+exp.String())
			return nil
		}
		if n.port == 0 {
			return regs
		}
		keep := e.full
		keep.DPort = model.NewPortSet(model.PortRange{Lo: n.port, Hi: n.port})
		ok, bad := split(keep)
		e.decide(bad, st, diverted, n.dnatRule, nil,
			"forwarded to port "+strconv.Itoa(int(n.port))+", not the port it came to")
		return ok
	}
	if n == nil || !n.dnat {
		return regs
	}
	// DNAT on a flow that is not a port forward: only a rewrite to the
	// address and port the packet already has leaves it where it was going.
	keep := e.full
	keep.Dst = space.Single(n.to)
	if n.port != 0 {
		keep.DPort = model.NewPortSet(model.PortRange{Lo: n.port, Hi: n.port})
	}
	ok, bad := split(keep)
	e.decide(bad, st, diverted, n.dnatRule, nil, "redirected by DNAT to "+n.to.String())
	return ok
}

// apply carries out rule r's verdict on the packets it matched.
func (e *evaluator) apply(in []space.Region, r *crule, st state, proto uint32) {
	if r.vmap != nil {
		for _, g := range in {
			cs, ok := g.Cubes(1 << 12)
			if !ok {
				e.decide([]space.Region{g}, &st, unknown, r.src, nil, "a verdict map over too many pieces")
				continue
			}
			rest := cs
			for _, el := range r.vmap {
				var part, left []space.Cube
				for _, c := range rest {
					m, nm, _ := e.tupleSplit(c, r.vfields, el.key, &st.v, &st.x)
					part = append(part, m...)
					left = append(left, nm...)
				}
				rest = left
				if len(part) > 0 {
					e.verdict(whole(part), r, el.verdict, el.target, st, proto)
				}
			}
		}
		return
	}
	e.verdict(in, r, r.src.Verdict, r.target, st, proto)
}

func (e *evaluator) verdict(in []space.Region, r *crule, v ruleset.Verdict, target *cchain, st state, proto uint32) {
	src := r.src
	switch v.Kind {
	case ruleset.Accept:
		e.next(in, st, &step{prev: st.trail, chain: st.base.src, rule: src, verdict: ruleset.Accept}, proto)
		return
	case ruleset.Drop, ruleset.Reject:
		for _, g := range in {
			e.emit(outcome{reg: g, res: dropped, kind: st.kind, rule: src, reject: v.Kind == ruleset.Reject, nat: st.nat, trail: st.trail})
		}
		return
	case ruleset.Jump:
		depth := 1
		if st.stack != nil {
			depth = st.stack.depth + 1
		}
		if depth > maxDepth {
			e.decide(in, &st, unknown, src, nil, "jumps nest deeper than portolan follows")
			return
		}
		st.stack = &frame{prev: st.stack, chain: st.chain, pos: st.pos, depth: depth}
		st.chain, st.pos = target, 0
		e.walk(in, st, proto)
		return
	case ruleset.Goto:
		st.chain, st.pos = target, 0
		e.walk(in, st, proto)
		return
	case ruleset.Return:
		if st.stack == nil {
			e.policy(in, st, proto)
			return
		}
		st.chain, st.pos, st.stack = st.stack.chain, st.stack.pos, st.stack.prev
		e.walk(in, st, proto)
		return
	case ruleset.Continue:
		e.walk(in, st, proto)
		return
	case ruleset.DNAT:
		en := e.pa.entries[st.entry]
		if en.natPoint != dstNAT || st.kind != origNew {
			e.decide(in, &st, unknown, src, nil, "DNAT where portolan does not expect one")
			return
		}
		if !v.To.IsValid() {
			e.decide(in, &st, unknown, src, nil, v.Why)
			return
		}
		if (v.To.Is4() && e.p.fam != 4) || (v.To.Is6() && e.p.fam != 6) {
			e.decide(in, &st, unknown, src, nil, "DNAT to an address of the other family")
			return
		}
		st.asm = nil // the packet's addresses change: conditions may answer otherwise
		n := &natState{dnat: true, to: v.To, toU: space.FromAddr(v.To), port: v.Port, dnatRule: src}
		if st.nat != nil {
			n.snat, n.snatRule = st.nat.snat, st.nat.snatRule
		}
		st.nat = n
		st.trail = &step{prev: st.trail, chain: st.base.src, rule: src, verdict: ruleset.DNAT}
		st.entry++
		st.natIdx = 0
		st.chain, st.stack = nil, nil
		e.walk(in, st, proto)
		return
	case ruleset.SNAT:
		en := e.pa.entries[st.entry]
		if en.natPoint != srcNAT || st.kind != origNew {
			e.decide(in, &st, unknown, src, nil, "SNAT where portolan does not expect one")
			return
		}
		st.asm = nil
		n := &natState{snat: true, snatRule: src}
		if st.nat != nil {
			n.dnat, n.to, n.toU, n.port, n.dnatRule = st.nat.dnat, st.nat.to, st.nat.toU, st.nat.port, st.nat.dnatRule
		}
		st.nat = n
		st.trail = &step{prev: st.trail, chain: st.base.src, rule: src, verdict: ruleset.SNAT}
		st.entry++
		st.natIdx = 0
		st.chain, st.stack = nil, nil
		e.walk(in, st, proto)
		return
	case ruleset.Redirect:
		e.decide(in, &st, diverted, src, nil, "redirected to the firewall itself")
		return
	}
	why := v.Why
	if why == "" {
		why = "verdict " + v.Kind.String()
	}
	e.decide(in, &st, unknown, src, nil, why)
}

// uncertain follows packets that rule r may or may not match both ways;
// where both ways end alike, that is the answer, elsewhere it is unknown.
// open are the rule's keyed conditions no assumption answers: where the
// rule matched they all hold; where it did not, and they are all that is
// uncertain and there is one, it fails.
func (e *evaluator) uncertain(in []space.Region, r *crule, st state, why string, proto uint32, open []ruleset.Cond, onlyConds bool) {
	if st.unc >= maxUncertain {
		e.decide(in, &st, unknown, r.src, nil, why)
		return
	}
	st.unc++
	sh := e.shadow
	e.shadow = nil // hypothetical branches say nothing of shadowing
	// Each way gets its own copy of the regions' holes.
	other := make([]space.Region, len(in))
	for i, g := range in {
		other[i] = space.Region{Base: g.Base, Holes: g.Holes.Clone()}
	}
	yes, no := st, st
	for _, c := range open {
		yes.asm = yes.asm.with(c.Key, !c.Neg)
	}
	if onlyConds && len(open) == 1 {
		no.asm = no.asm.with(open[0].Key, open[0].Neg)
	}
	saved := e.emit
	var matched, not []outcome
	e.emit = func(o outcome) { matched = append(matched, o) }
	e.apply(in, r, yes, proto)
	e.emit = func(o outcome) { not = append(not, o) }
	e.walk(other, no, proto)
	e.emit = saved
	e.shadow = sh
	for _, b := range not {
		for _, a := range matched {
			if !a.reg.Base.Overlaps(b.reg.Base) {
				continue
			}
			x := intersectRegions(a.reg, b.reg)
			if a.res == b.res && a.res != unknown && a.nat.same(b.nat) {
				o := b
				o.reg = x
				saved(o)
				continue
			}
			o := outcome{reg: x, res: unknown, kind: st.kind, rule: r.src, why: why, nat: b.nat, trail: b.trail}
			// Name the rule that is really unknown: one way may end
			// unknown at a later rule, whatever r does.
			switch {
			case b.res == unknown:
				o.rule, o.chain, o.why, o.kind = b.rule, b.chain, b.why, b.kind
			case a.res == unknown:
				o.rule, o.chain, o.why, o.kind = a.rule, a.chain, a.why, a.kind
			}
			saved(o)
		}
	}
}

// intersectRegions returns the packets both regions hold.
func intersectRegions(a, b space.Region) space.Region {
	base := a.Base.Intersect(b.Base)
	if a.Holes.Len() == 0 && b.Holes.Len() == 0 {
		return space.Whole(base)
	}
	h := &space.Holes{}
	for _, g := range []space.Region{a, b} {
		g.Holes.Overlapping(base, func(c space.Cube, tag int32) bool {
			h.Add(c.Intersect(base), tag)
			return true
		})
	}
	return space.Region{Base: base, Holes: h}
}

// ruleCube returns the packets rule r's packet-field conditions select,
// in the flow's coordinates; ok is false when a field fixed by NAT or
// absent fails them, opaque names a field portolan cannot see.
func (e *evaluator) ruleCube(r *crule, v *view) (space.Cube, bool, string) {
	c := e.full
	opaque := ""
	for f := 0; f < int(space.NumDims); f++ {
		if !r.has[f] {
			continue
		}
		d := v.dim[f]
		switch d {
		case fromOpaque:
			opaque = ruleset.Field(f).String() + " after masquerade"
			continue
		case fromConst:
			switch {
			case f < 2:
				if !r.addr[f].Contains(v.cAddr[f]) {
					return c, false, ""
				}
			case f < 4:
				if !r.port[f-2].Contains(v.cPort[f-2]) {
					return c, false, ""
				}
			default:
				if !r.ifs[f-4].Overlaps(e.noIf) {
					return c, false, ""
				}
			}
			continue
		}
		switch {
		case f < 2:
			setAddr(&c, space.Dim(d), *r.addr[f])
		case f < 4:
			setPort(&c, space.Dim(d), *r.port[f-2])
		default:
			setIf(&c, space.Dim(d), r.ifs[f-4])
		}
	}
	return c, true, opaque
}

func setAddr(c *space.Cube, d space.Dim, a space.Addrs) {
	if d == space.Src {
		c.Src = a
	} else {
		c.Dst = a
	}
}

func setPort(c *space.Cube, d space.Dim, p model.PortSet) {
	if d == space.SPort {
		c.SPort = p
	} else {
		c.DPort = p
	}
}

func setIf(c *space.Cube, d space.Dim, s space.IfSet) {
	if d == space.IIf {
		c.IIf = s
	} else {
		c.OIf = s
	}
}

// overlaps reports whether rule r's packet-field conditions could match
// some of cube c, quickly.
func (e *evaluator) overlaps(c space.Cube, r *crule, v *view) bool {
	for f := 0; f < int(space.NumDims); f++ {
		if !r.has[f] {
			continue
		}
		d := v.dim[f]
		if d < 0 {
			continue // decided in ruleCube
		}
		var ok bool
		switch {
		case f < 2:
			if space.Dim(d) == space.Src {
				ok = c.Src.Overlaps(*r.addr[f])
			} else {
				ok = c.Dst.Overlaps(*r.addr[f])
			}
		case f < 4:
			if space.Dim(d) == space.SPort {
				ok = space.PortsOverlap(c.SPort, *r.port[f-2])
			} else {
				ok = space.PortsOverlap(c.DPort, *r.port[f-2])
			}
		default:
			if space.Dim(d) == space.IIf {
				ok = c.IIf.Overlaps(r.ifs[f-4])
			} else {
				ok = c.OIf.Overlaps(r.ifs[f-4])
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// split takes out of the regions the packets rule r matches and returns
// them as regions (each: what the rule matches of a region's base, less
// the region's holes there); the regions keep them as holes (a region all
// taken is dropped; spent lists those, for a first packet whose shadows
// are sought). why names a condition portolan cannot decide (the match is
// then uncertain). A rule whose packets in a region one earlier rule took
// whole is noted as shadowed.
func (e *evaluator) split(regs []space.Region, r *crule, st *state) (rest, in, spent []space.Region, why string) {
	v, x := &st.v, &st.x
	var rc space.Cube
	built := false
	// Spent regions are only kept where a first packet's shadows are
	// sought: as ghosts.
	ghosts := e.shadow != nil && st.kind == origNew
	rest = regs[:0]
	in = e.buf()
	for i, g := range regs {
		if !e.overlaps(g.Base, r, v) {
			rest = keepRegion(rest, regs, i)
			continue
		}
		if !built {
			var ok bool
			rc, ok, why = e.ruleCube(r, v)
			if !ok {
				// a field fixed by NAT or absent fails the rule: nothing matches
				return append(rest, regs[i:]...), in, nil, ""
			}
			built = true
		}
		if !g.Base.Overlaps(rc) {
			rest = keepRegion(rest, regs, i)
			continue
		}
		xc := g.Base.Intersect(rc)
		by, covered, holed := g.Holes.Covering(xc)
		if covered {
			e.noteShadow(r, by, st)
			rest = keepRegion(rest, regs, i)
			continue
		}
		ms := []space.Cube{xc}
		refined := false
		for _, mt := range r.multi {
			refined = true
			var keep []space.Cube
			for _, c := range ms {
				m, nm, w := e.multiSplit(c, mt, v, x)
				if w != "" && why == "" {
					why = w
				}
				if mt.neg {
					m = nm
				}
				keep = append(keep, m...)
			}
			ms = keep
		}
		if r.vmap != nil {
			refined = true
			var keep []space.Cube
			for _, c := range ms {
				left := []space.Cube{c}
				for _, el := range r.vmap {
					var next []space.Cube
					for _, l := range left {
						m, nm, w := e.tupleSplit(l, r.vfields, el.key, v, x)
						if w != "" && why == "" {
							why = w
						}
						keep = append(keep, m...)
						next = append(next, nm...)
					}
					left = next
				}
			}
			ms = keep
		}
		if len(ms) == 0 {
			rest = keepRegion(rest, regs, i)
			continue
		}
		// All of the region taken, and no shadow to look for in it (only a
		// first packet's spent regions are ghosts): the region goes on as
		// the rule's, holes and all. A hole for what the rule took would
		// never be read, so it is not added: the region is gone, and the
		// regions its holes are shared with have bases apart from its own,
		// which such a hole does not overlap.
		whole := !refined && xc.Equal(g.Base)
		if whole && !ghosts {
			if !holed {
				g.Holes = nil
			}
			in = append(in, g)
			continue
		}
		// The matched parts keep the region's holes as they are now, shared
		// (those outside xc stick out of their bases: harmless).
		var sub *space.Holes
		if holed {
			sub = g.Holes.Snapshot()
		}
		if g.Holes == nil {
			g.Holes = &space.Holes{}
		}
		for _, c := range ms {
			g.Holes.Add(c, r.id)
			// The matched parts share the holes they lie in: their bases
			// are disjoint, and each only gains holes inside its own.
			in = append(in, space.Region{Base: c, Holes: sub})
		}
		// All of the region taken: it is gone.
		if whole {
			if ghosts {
				spent = append(spent, g)
			}
			continue
		}
		rest = append(rest, g)
	}
	return rest, in, spent, why
}

// keepRegion puts regs[i], unchanged, on rest, which is regs[:0] grown: in
// place when rest has caught up with it (a region is 152 bytes, most of
// them pointers).
func keepRegion(rest, regs []space.Region, i int) []space.Region {
	if len(rest) == i {
		return rest[:i+1]
	}
	return append(rest, regs[i])
}

// ghostScan notes rule r as shadowed where one earlier rule took all it
// matches of a spent region; it drops the ghosts when the list is full.
func (e *evaluator) ghostScan(ghosts []space.Region, r *crule, st *state) []space.Region {
	if e.shadow == nil || e.shadow.more {
		return nil
	}
	if e.shadow.seen[r.src] {
		return ghosts
	}
	for _, g := range ghosts {
		if !e.overlaps(g.Base, r, &st.v) {
			continue
		}
		rc, ok, _ := e.ruleCube(r, &st.v)
		if !ok || !g.Base.Overlaps(rc) {
			continue
		}
		if tag, covered, _ := g.Holes.Covering(g.Base.Intersect(rc)); covered {
			e.noteShadow(r, tag, st)
		}
		if e.shadow.seen[r.src] {
			break
		}
	}
	return ghosts
}

// noteShadow notes that rule r matched only packets earlier rules took.
func (e *evaluator) noteShadow(r *crule, by int32, st *state) {
	sh := e.shadow
	if sh == nil || sh.more || st.kind != origNew || sh.seen[r.src] || r.inert {
		return // (once the list is full, no rule is noted any more)
	}
	if by >= 0 && sh.unsure[by] {
		return // an uncertain rule decides nothing for sure
	}
	sh.seen[r.src] = true
	if len(sh.list) >= 4*sh.max {
		sh.more = true
		return
	}
	var byRule *ruleset.Rule
	if by >= 0 && int(by) < len(e.p.byID) {
		byRule = e.p.byID[by].src
	}
	sh.list = append(sh.list, shadowed{rule: r.src, by: byRule})
}

// multiSplit divides a cube by a concatenation: the part whose values are
// one of the tuples, and the rest.
func (e *evaluator) multiSplit(c space.Cube, mt multiTerm, v *view, x *ctx) (m, nm []space.Cube, why string) {
	left := []space.Cube{c}
	for _, row := range mt.tuples {
		var next []space.Cube
		for _, l := range left {
			a, b, w := e.tupleSplit(l, mt.fields, row, v, x)
			if w != "" && why == "" {
				why = w
			}
			m = append(m, a...)
			next = append(next, b...)
		}
		left = next
		if len(left) == 0 {
			break
		}
	}
	return m, left, why
}

// tupleSplit divides a cube by one tuple of values.
func (e *evaluator) tupleSplit(c space.Cube, fields []ruleset.Field, row []fieldSet, v *view, x *ctx) (m, nm []space.Cube, why string) {
	tc := e.full
	for i, f := range fields {
		fs := row[i]
		if !f.Dimensional() {
			ct := constTest{field: f, vals: fs.num}
			ok, known := ct.eval(*x)
			if !known {
				why = f.String() + " portolan does not know"
			} else if !ok {
				return nil, []space.Cube{c}, ""
			}
			continue
		}
		d := v.dim[f]
		switch d {
		case fromOpaque:
			why = f.String() + " after masquerade"
			continue
		case fromConst:
			var ok bool
			switch {
			case f < 2:
				ok = fs.addr.Contains(v.cAddr[f])
			case f < 4:
				ok = fs.port.Contains(v.cPort[f-2])
			default:
				ok = fs.ifs.Overlaps(e.noIf)
			}
			if !ok {
				return nil, []space.Cube{c}, ""
			}
			continue
		}
		switch {
		case f < 2:
			if space.Dim(d) == space.Src {
				tc.Src = tc.Src.Intersect(fs.addr)
			} else {
				tc.Dst = tc.Dst.Intersect(fs.addr)
			}
		case f < 4:
			if space.Dim(d) == space.SPort {
				tc.SPort = tc.SPort.Intersect(fs.port)
			} else {
				tc.DPort = tc.DPort.Intersect(fs.port)
			}
		default:
			if space.Dim(d) == space.IIf {
				tc.IIf = tc.IIf.Intersect(fs.ifs)
			} else {
				tc.OIf = tc.OIf.Intersect(fs.ifs)
			}
		}
	}
	if !c.Overlaps(tc) {
		return nil, []space.Cube{c}, why
	}
	return []space.Cube{c.Intersect(tc)}, c.Subtract(tc), why
}

// condWhy says which condition of rule r is open.
func condWhy(r *crule, c ruleset.Cond) string {
	for i, x := range r.conds {
		if x == c && i < len(r.unknown) {
			return r.unknown[i]
		}
	}
	return r.unknown[0]
}

// noteAttach notes that rule r, which attaches a conntrack helper or
// timeout, matched some first packets (sure) or may have.
func (e *evaluator) noteAttach(r *crule, sure bool) {
	if e.obs.helpers == nil {
		e.obs.helpers = map[*ruleset.Rule]bool{}
	}
	e.obs.helpers[r.src] = e.obs.helpers[r.src] || sure
}
