package audit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/audit/space"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

// ref names a rule, or the policy of chain c when r is nil.
func ref(r *ruleset.Rule, c *ruleset.Chain) RuleRef {
	if r == nil {
		if c == nil {
			return RuleRef{}
		}
		v := "accept"
		if c.Policy == ruleset.Drop {
			v = "drop"
		}
		return RuleRef{Chain: c.String(), Policy: true, Verdict: v, Line: c.Pos.Line}
	}
	v := r.Verdict.String()
	if m := r.Map(); m != nil {
		v = "vmap"
		if len(m.Elems) > 0 && m.Elems[0].Verdict.Kind == ruleset.DNAT {
			v = "dnat map"
		}
	}
	return RuleRef{Chain: r.Chain.String(), Handle: r.Pos.Handle, Line: r.Pos.Line, Text: r.Pos.Text, Verdict: v}
}

type groupKey struct {
	res    result
	kind   pktKind
	rule   *ruleset.Rule
	chain  *ruleset.Chain
	why    string
	reject bool
	fam    int
	hook   string
	// for accepted parts: the deciding steps of the first packet, the
	// reply and the packets after
	drule, rrule, lrule    *ruleset.Rule
	dchain, rchain, lchain *ruleset.Chain
	// the NAT rules of the first packet (two at most: DNAT, SNAT)
	nat1, nat2 *ruleset.Rule
}

type group struct {
	key groupKey
	// members are the group's regions, in order: written as cubes (or
	// holed) only when the group's parts are reported.
	members []member
	trail   *step // the first part's
}

// member is the region of an outcome of a group and, when done, how
// pieces writes it.
type member struct {
	reg  space.Region
	cs   []space.Cube
	hd   *holed
	done bool
}

// write appends the group's regions to cubes and, those too carved to
// write as cubes, to holed, in order.
func (g *group) write(cubes []space.Cube, hs []holed) ([]space.Cube, []holed) {
	for _, m := range g.members {
		if !m.done {
			m.cs, m.hd, _, _ = pieces(m.reg) // not empty: Holds said so
		}
		cubes = append(cubes, m.cs...)
		if m.hd != nil {
			hs = append(hs, *m.hd)
		}
	}
	return cubes, hs
}

// holed is a region too carved to write as cubes: its base, the number
// of holes in it, and a packet of it for a witness.

type holed struct {
	reg     space.Region
	base    space.Cube
	holes   int
	witness space.Cube
	found   bool
}

// pieces writes a region for a report: as a few cubes, or as its base
// with the number of holes and one packet of it; empty says it holds no
// packet, undecided that portolan could not tell.
func pieces(r space.Region) (cubes []space.Cube, h *holed, empty, undecided bool) {
	if r.Holes.Len() == 0 {
		if r.Base.Empty() {
			return nil, nil, true, false
		}
		return []space.Cube{r.Base}, nil, false, false
	}
	if cs, ok := r.Cubes(64); ok {
		return cs, nil, len(cs) == 0, false
	}
	w, found, exhausted := r.Find(4096)
	if !found {
		return nil, nil, !exhausted, exhausted
	}
	n := 0
	r.Holes.Overlapping(r.Base, func(space.Cube, int32) bool { n++; return true })
	return nil, &holed{base: r.Base, holes: n, witness: w, found: true, reg: r}, false, false
}

// mainHook is the hook whose decision explains an accepted flow.
func mainHook(hook string) string {
	if hook == "prerouting" {
		return "forward"
	}
	return hook
}

// decider picks the step that explains why a packet passed, among the
// filter chains' decisions (NAT is named apart): the first rule that
// accepted it at the flow's main hook, else that hook's policy, else the
// last rule that accepted it anywhere, else the last policy. The trail
// is read from its last step back: the first of a kind is the last met.
func decider(t *step, hook string) *step {
	var mainRule, mainPolicy, lastRule, last *step
	main := mainHook(hook)
	for s := t; s != nil; s = s.prev {
		if s.chain.Type == "nat" || s.verdict != ruleset.Accept {
			continue
		}
		if last == nil {
			last = s
		}
		atMain := s.chain.Hook == main
		switch {
		case s.rule != nil && atMain:
			mainRule = s
		case atMain:
			mainPolicy = s
		case s.rule != nil && lastRule == nil:
			lastRule = s
		}
	}
	switch {
	case mainRule != nil:
		return mainRule
	case mainPolicy != nil:
		return mainPolicy
	case lastRule != nil:
		return lastRule
	}
	return last
}

// natSteps returns the first two NAT rules on a trail, in order.
func natSteps(t *step) (first, second *ruleset.Rule) {
	for s := t; s != nil; s = s.prev {
		if s.rule != nil && (s.verdict == ruleset.DNAT || s.verdict == ruleset.SNAT) {
			first, second = s.rule, first
		}
	}
	return first, second
}

// tally groups the outcomes of one evaluation as they come: by
// (result, rule, chain, reason, packet, family, hook, and for accepted
// parts the deciding and NAT rules), in the order the groups first
// appear. A report lists the parts of the first groups after a stable
// sort by (result accepted last, family, packet), at most max parts and
// so at most max groups: of the groups of one (result accepted or not,
// packet) — one family and hook per tally — only the first max are kept.
// The outcomes of the others only tell the verdict, and once it cannot
// change they are not even looked at.
type tally struct {
	hook string
	fam  int
	max  int
	n    int // outcomes
	// groups are the groups kept, in the order they first appeared.
	groups []*group
	idx    map[groupKey]*group
	kept   [2][3]int // groups kept by (accepted, packet)
	// over says some group of (accepted, packet) was not kept.
	over             [2][3]bool
	hasA, hasD, hasU bool
}

func newTally(hook string, fam, max int) *tally {
	return &tally{hook: hook, fam: fam, max: max, idx: map[groupKey]*group{}}
}

// undecidedWhy is the reason of a region portolan cannot tell empty.
var undecidedWhy = "so many rules overlap here that portolan cannot tell whether any packet is left to " + unknown.String()

// full reports whether no more groups of key k's sort rank are kept.
func (t *tally) full(k groupKey) bool {
	return t.kept[b2i(k.res == accepted)][k.kind] >= t.max
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// add tallies an outcome.
func (t *tally) add(o outcome) {
	t.n++
	k := groupKey{res: o.res, kind: o.kind, rule: o.rule, chain: o.chain, why: o.why, reject: o.reject, fam: t.fam, hook: t.hook}
	if o.res == accepted {
		if s := decider(o.trail, t.hook); s != nil {
			k.drule, k.dchain = s.rule, s.chain
		}
		if s := o.replyBy; s != nil {
			k.rrule, k.rchain = s.rule, s.chain
		}
		if s := o.laterBy; s != nil {
			k.lrule, k.lchain = s.rule, s.chain
		}
		k.nat1, k.nat2 = natSteps(o.trail)
		k.kind = origNew
	}
	// A region portolan cannot tell empty is unknown, of this group.
	ku := groupKey{res: unknown, kind: o.kind, why: undecidedWhy, reject: o.reject, fam: t.fam, hook: t.hook}
	g := t.idx[k]
	if g == nil && t.hasD && (t.hasA || t.hasU) && t.full(k) && t.idx[ku] == nil && t.full(ku) {
		// The verdict is partial whatever this region holds, and it
		// would be in no group kept.
		t.over[b2i(k.res == accepted)][k.kind] = true
		return
	}
	// A region that surely holds a packet is written when its group's
	// parts are reported, if they are: most of a flow's regions are in
	// groups that are not.
	m := member{reg: o.reg}
	if !o.reg.Holds() {
		cs, hd, empty, undecided := pieces(o.reg)
		if empty {
			return
		}
		if undecided {
			// Too many rules overlap here to tell whether any packet is
			// left: say so rather than claim it passes or not.
			k, g = ku, t.idx[ku]
			cs, hd = nil, &holed{base: o.reg.Base}
		}
		m.cs, m.hd, m.done = cs, hd, true
	}
	switch k.res {
	case accepted:
		t.hasA = true
	case dropped, diverted:
		t.hasD = true
	default:
		t.hasU = true
	}
	if g == nil {
		i, j := b2i(k.res == accepted), k.kind
		if t.kept[i][j] >= t.max {
			t.over[i][j] = true
			return
		}
		t.kept[i][j]++
		g = &group{key: k, trail: o.trail}
		t.idx[k] = g
		t.groups = append(t.groups, g)
	}
	g.members = append(g.members, m)
}

// overflowed reports whether some group was not kept.
func (t *tally) overflowed() bool {
	for _, o := range t.over {
		for _, x := range o {
			if x {
				return true
			}
		}
	}
	return false
}

// flowGroup is a group of a flow's parts: the group of an evaluation,
// and the same group of the flow's later evaluations (of the same
// family and hook), whose members come after.
type flowGroup struct {
	*group
	more []*group
}

// parts groups the tallied outcomes of a flow's evaluations into parts
// and gives the flow's verdict. The tallies may be shared with other
// flows: they are only read.
func (a *Auditor) parts(ts []*tally, f *resolve.Concrete, opt Options) ([]Part, Verdict) {
	var hasA, hasD, hasU bool
	n := 0
	for _, t := range ts {
		hasA, hasD, hasU = hasA || t.hasA, hasD || t.hasD, hasU || t.hasU
		n += len(t.groups)
	}
	groups := make([]flowGroup, 0, n)
	// Only evaluations of one family and hook can have a group alike.
	var idx map[groupKey]int
	for i, t := range ts {
		for _, u := range ts[:i] {
			if u.fam == t.fam && u.hook == t.hook {
				idx = map[groupKey]int{}
			}
		}
	}
	for _, t := range ts {
		for _, g := range t.groups {
			if idx != nil {
				if i, ok := idx[g.key]; ok {
					groups[i].more = append(groups[i].more, g)
					continue
				}
				idx[g.key] = len(groups)
			}
			groups = append(groups, flowGroup{group: g})
		}
	}
	slices.SortStableFunc(groups, func(x, y flowGroup) int {
		rank := func(r result) int {
			if r == accepted {
				return 1
			}
			return 0
		}
		if c := cmp.Compare(rank(x.key.res), rank(y.key.res)); c != 0 {
			return c
		}
		if c := cmp.Compare(x.key.fam, y.key.fam); c != 0 {
			return c
		}
		return cmp.Compare(x.key.kind, y.key.kind)
	})
	// The groups reported, written: a part for each cube, then for each
	// holed region, at most opt.MaxParts in all.
	type written struct {
		g     flowGroup
		cubes []space.Cube
		holed []holed
	}
	ws := make([]written, 0, min(len(groups), opt.MaxParts)) // a part at least each
	count := 0
	for _, g := range groups {
		if count >= opt.MaxParts {
			break // no part of it would be reported
		}
		cubes, hs := g.write(nil, nil)
		for _, m := range g.more {
			cubes, hs = m.write(cubes, hs)
		}
		if len(cubes) <= 400 {
			cubes = space.Merge(cubes)
		}
		ws = append(ws, written{g, cubes, hs})
		count += len(cubes) + len(hs)
	}
	parts := make([]Part, 0, min(count, opt.MaxParts))
	for _, w := range ws {
		for _, c := range w.cubes {
			if len(parts) >= opt.MaxParts {
				break
			}
			parts = append(parts, a.part(w.g.group, c, f, nil))
		}
		for _, h := range w.holed {
			if len(parts) >= opt.MaxParts {
				break
			}
			parts = append(parts, a.part(w.g.group, h.base, f, &h))
		}
	}
	v := Allowed
	switch {
	case hasD && (hasA || hasU):
		v = Partial
	case hasD:
		v = Blocked
	case hasU:
		v = Unknown
	}
	return parts, v
}

func (a *Auditor) ifNames(s space.IfSet) string {
	if s.Equal(a.ifaces.Real()) || s.Equal(a.ifaces.All()) {
		return "any"
	}
	var names []string
	for _, c := range s.Classes() {
		n := a.ifaces.Name(c)
		if n == "" {
			n = "-"
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func portsString(p model.PortSet) string {
	if p.Equal(model.AllPorts()) || p.Equal(space.AllPortsWithZero()) {
		return "any"
	}
	return p.String()
}

func (a *Auditor) part(g *group, c space.Cube, f *resolve.Concrete, h *holed) Part {
	k := g.key
	fam := k.fam
	p := Part{
		Result: k.res.String(), Packet: k.kind.String(), Family: fam, Hook: k.hook,
		Src: c.Src.Format(fam), Dst: c.Dst.Format(fam),
		SrcPorts: portsString(c.SPort), DstPorts: portsString(c.DPort),
		IIf: a.ifNames(c.IIf), OIf: a.ifNames(c.OIf), Why: k.why,
	}
	if p.IIf == "-" {
		p.IIf = ""
	}
	if p.OIf == "-" {
		p.OIf = ""
	}
	switch k.res {
	case accepted:
		acc := func(r *ruleset.Rule, c *ruleset.Chain) *RuleRef {
			if r == nil && c == nil {
				return nil
			}
			x := ref(r, c)
			if r == nil {
				x.Verdict = "accept"
			}
			return &x
		}
		p.Rule = acc(k.drule, k.dchain)
		p.Replies = acc(k.rrule, k.rchain)
		p.Later = acc(k.lrule, k.lchain)
		for _, n := range []*ruleset.Rule{k.nat1, k.nat2} {
			if n != nil {
				p.NAT = append(p.NAT, natRef(n))
			}
		}
	default:
		if k.rule != nil || k.chain != nil {
			r := ref(k.rule, k.chain)
			if k.reject {
				r.Verdict = "reject"
			}
			p.Rule = &r
		}
		wc := c
		if h != nil {
			wc = hostWitness(h.reg, h.witness, fam)
		}
		if h == nil || h.found {
			w := a.witness(wc, fam, f.Proto, k.kind)
			p.Witness = &w
		}
	}
	if h != nil {
		p.Except = h.holes
	}
	for _, s := range g.trail.steps() {
		r := ref(s.rule, s.chain)
		r.Verdict = s.verdict.String()
		if s.rule != nil && s.verdict == ruleset.DNAT && s.rule.Verdict.To.IsValid() {
			r.Verdict = s.rule.Verdict.String()
		}
		p.Trail = append(p.Trail, r)
	}
	return p
}

// pickPort chooses a port of the set for a witness: an ephemeral one when
// the set is (nearly) any port, else the first.
func pickPort(s model.PortSet) uint16 {
	if s.Len() > 30000 && s.Contains(40000) {
		return 40000
	}
	for _, r := range s.Ranges() {
		if r.Lo == 0 {
			if r.Hi > 0 {
				return 1
			}
			continue
		}
		return r.Lo
	}
	return 0
}

// pickIf names an interface of the set: the first class with a name,
// else none ("").
func (a *Auditor) pickIf(s space.IfSet) string {
	for c := s.Next(0); c >= 0; c = s.Next(c + 1) {
		if n := a.ifaces.Name(c); n != "" {
			return n
		}
	}
	return ""
}

func hostPort(addr string, port uint16, fam int) string {
	var b [64]byte
	buf := b[:0]
	if fam == 6 {
		buf = append(append(append(buf, '['), addr...), ']')
	} else {
		buf = append(buf, addr...)
	}
	return string(strconv.AppendUint(append(buf, ':'), uint64(port), 10))
}

// witness is one packet of the part, as the firewall sees it where the
// part is decided (a reply runs from the remote side back).
func (a *Auditor) witness(c space.Cube, fam int, proto string, k pktKind) Packet {
	src, dst := hostAddr(c.Src, fam).String(), hostAddr(c.Dst, fam).String()
	sp, dp := pickPort(c.SPort), pickPort(c.DPort)
	iif, oif := a.pickIf(c.IIf), a.pickIf(c.OIf)
	w := Packet{Family: fam, Proto: proto, CtState: "new"}
	switch k {
	case replyEst:
		w.Src, w.Dst = hostPort(dst, dp, fam), hostPort(src, sp, fam)
		w.IIf, w.OIf = oif, iif
		w.CtState = "established"
		if proto == model.TCP {
			w.Flags = "syn,ack"
		}
	default:
		w.Src, w.Dst = hostPort(src, sp, fam), hostPort(dst, dp, fam)
		w.IIf, w.OIf = iif, oif
		if k == origEst {
			w.CtState = "established"
			if proto == model.TCP {
				w.Flags = "ack"
			}
		} else if proto == model.TCP {
			w.Flags = "syn"
		}
	}
	return w
}

// summarize says in one line why a flow has its verdict.
func summarize(fr FlowResult) string {
	if len(fr.Parts) == 0 {
		if len(fr.Notes) > 0 {
			return fr.Notes[0]
		}
		return ""
	}
	var fail *Part
	nfail := 0
	for i := range fr.Parts {
		if fr.Parts[i].Result != "accepted" {
			if fail == nil {
				fail = &fr.Parts[i]
			}
			nfail++
		}
	}
	if fail == nil {
		p := fr.Parts[0]
		s := "accepted (no rule on its way)"
		if p.Rule != nil {
			s = "accepted by " + p.Rule.String()
		}
		for _, n := range p.NAT {
			s += "; " + n.Verdict + " by " + n.String()
		}
		return s
	}
	var b strings.Builder
	what := map[string]string{"new": "first packets", "reply": "replies", "established": "later packets"}[fail.Packet]
	switch fail.Result {
	case "dropped":
		verb := "dropped"
		if fail.Rule != nil && fail.Rule.Verdict == "reject" {
			verb = "rejected"
		}
		fmt.Fprintf(&b, "%s %s by %s", what, verb, fail.Rule)
	case "diverted":
		fmt.Fprintf(&b, "%s %s", what, fail.Why)
		if fail.Rule != nil {
			fmt.Fprintf(&b, " (%s)", fail.Rule)
		}
	default:
		fmt.Fprintf(&b, "unknown: %s", fail.Why)
		if fail.Rule != nil {
			fmt.Fprintf(&b, " (%s)", fail.Rule)
		}
	}
	if fail.Witness != nil {
		fmt.Fprintf(&b, "; e.g. %s", fail.Witness)
	}
	if nfail > 1 {
		fmt.Fprintf(&b, "; %d failing parts", nfail)
	}
	return b.String()
}

// natRef names a NAT rule with what it does.
func natRef(r *ruleset.Rule) RuleRef {
	x := ref(r, nil)
	switch {
	case r.Verdict.Kind == ruleset.SNAT:
		x.Verdict = "snat"
		if r.Verdict.Why == "masquerade" || strings.Contains(r.Pos.Text, "-j MASQUERADE") {
			x.Verdict = "masquerade"
		}
	case r.Verdict.Kind == ruleset.DNAT:
		x.Verdict = r.Verdict.String()
	case r.Map() != nil:
		x.Verdict = "dnat map"
	}
	return x
}

// hostAddr picks an address of the set a host can have: never a
// network's own address or a broadcast (x.x.x.0, x.x.x.255, an IPv6
// subnet's ::), unless the set holds nothing else.
func hostAddr(a space.Addrs, fam int) netip.Addr {
	p := a.Pick(fam)
	if usable(p) {
		return p
	}
	for _, r := range a.Ranges() {
		x := r.Lo
		for i := 0; i < 4; i++ {
			if ad := x.Addr(fam); usable(ad) {
				return ad
			}
			if x == r.Hi {
				break
			}
			x = x.Next()
		}
	}
	return p
}

func usable(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	b := a.AsSlice()
	if a.Is4() {
		return b[3] != 0 && b[3] != 255
	}
	for _, x := range b[8:] {
		if x != 0 {
			return true
		}
	}
	return false
}

// hostWitness moves a witness packet of region r off a network's own
// address (one found beside a hole often lands on one) to a host address
// near it that the region holds, when there is one.
func hostWitness(r space.Region, w space.Cube, fam int) space.Cube {
	for _, src := range []bool{true, false} {
		as := w.Dst
		if src {
			as = w.Src
		}
		rs := as.Ranges()
		if len(rs) != 1 || rs[0].Lo != rs[0].Hi {
			continue
		}
		a := rs[0].Lo.Addr(fam)
		for i := 0; i < 4 && !usable(a); i++ {
			a = a.Next()
			q := w
			if src {
				q.Src = space.Single(a)
			} else {
				q.Dst = space.Single(a)
			}
			if usable(a) && r.Contains(q) {
				w = q
			}
		}
	}
	return w
}
