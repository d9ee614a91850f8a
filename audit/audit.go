// Package audit says what an existing firewall ruleset does with the flows
// a service needs: for every packet of a flow — the first one, the first
// reply, the ones after — which part the ruleset accepts and which it
// drops, with the deciding rule and a witness packet for each part.
//
// It reads the flows as package policy does (the same reading the rules
// generators compile), and the ruleset through package ruleset, whatever
// syntax it came in (see nftjson and iptsave). The evaluation is symbolic:
// sets of packets (cubes of addresses, ports and interfaces, package
// space) are split by each rule they meet, following the kernel's order —
// base chains by hook and priority, NAT chains at the NAT priority, jump,
// goto, return and policies, connection tracking states, DNAT of port
// forwards. A condition it does not understand never becomes a guess: the
// packets it could decide are followed both ways, and where the two ways
// end differently the verdict is unknown, naming the rule.
package audit

import (
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/audit/space"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// Verdict is a flow's verdict.
type Verdict string

// Verdicts.
const (
	Allowed Verdict = "allowed" // every packet of the flow passes
	Partial Verdict = "partial" // some pass, some are dropped
	Blocked Verdict = "blocked" // none passes
	Unknown Verdict = "unknown" // none is known dropped, some depend on what portolan cannot follow
	Skipped Verdict = "skipped" // the flow yields no packets to check (wildcards only, inside the LAN…)
)

// Options tune an audit.
type Options struct {
	// WANAddrs are the addresses inbound flows arrive at on a gateway;
	// none means any address.
	WANAddrs []netip.Addr
	// MaxShadowed bounds the shadowed rules listed per flow (default 20).
	MaxShadowed int
	// MaxParts bounds the parts listed per flow (default 40).
	MaxParts int
	// Constraints are the services' constraints to audit (alg-off,
	// nat-timeout; the others are listed as not auditable here).
	Constraints []resolve.Constraint
}

// Auditor is a ruleset compiled for auditing.
type Auditor struct {
	rs     *ruleset.Ruleset
	site   policy.Site
	ifaces *space.Ifaces
	progs  map[int]*program
	// matchesIfs: the ruleset compares interface names
	matchesIfs bool
	mu         sync.Mutex
	cache      map[string]*cached
	// uses counts, during Audit, the flows yet to read each cached
	// evaluation: the last one frees it.
	uses map[string]int
}

// New compiles a ruleset for a site.
func New(rs *ruleset.Ruleset, site policy.Site) (*Auditor, error) {
	return newAuditor(rs, site, false)
}

// NewDropping is New followed by DropTerms, for a ruleset read only to be
// audited, as the CLI reads one: a rule's terms are freed as soon as
// every family that sees its chain has compiled it, so that a large
// ruleset is not held twice, as terms and compiled, while it compiles.
// rs cannot be given to New again.
func NewDropping(rs *ruleset.Ruleset, site policy.Site) (*Auditor, error) {
	a, err := newAuditor(rs, site, true)
	if err != nil {
		return nil, err
	}
	a.DropTerms() // the rules of chains both families see
	return a, nil
}

func newAuditor(rs *ruleset.Ruleset, site policy.Site, drop bool) (*Auditor, error) {
	if err := site.Validate(); err != nil {
		return nil, err
	}
	exact, prefixes := ifaceNames(rs)
	a := &Auditor{rs: rs, site: site, progs: map[int]*program{}, matchesIfs: len(exact)+len(prefixes) > 0, cache: map[string]*cached{}}
	// The site's interfaces are classes of their own, so that witnesses
	// name them even when no rule does.
	for _, n := range []string{site.LANIf, site.WANIf} {
		if n != "" {
			exact = append(exact, n)
		}
	}
	a.ifaces = space.NewIfaces(exact, prefixes, nil)
	// The families compile apart, at once.
	fams := [2]int{4, 6}
	var progs [2]*program
	var errs [2]error
	var wg sync.WaitGroup
	for i, fam := range fams {
		wg.Go(func() { progs[i], errs[i] = compile(rs, fam, a.ifaces, drop) })
	}
	wg.Wait()
	for i, fam := range fams {
		if errs[i] != nil {
			return nil, errs[i]
		}
		a.progs[fam] = progs[i]
	}
	return a, nil
}

// DropTerms frees the terms of the ruleset's rules, which the compiled
// programs no longer read (for 100k rules, about 30 MB): what reports
// name of a rule (chain, handle, line, text, verdict) stays. The ruleset
// cannot be given to New again after it.
func (a *Auditor) DropTerms() {
	for _, c := range a.rs.Chains {
		for _, r := range c.Rules {
			r.Terms = nil
		}
	}
}

// Report is the audit of a set of flows.
type Report struct {
	Format   ruleset.Format   `json:"format"`
	Mode     policy.Mode      `json:"mode"`
	Flows    []FlowResult     `json:"flows"`
	Services []ServiceSummary `json:"services"`
	Notes    []string         `json:"notes"`
	// Constraints are the services' constraints that are not ports, as
	// far as the ruleset shows them.
	Constraints []ConstraintResult `json:"constraints"`
	// OK: every required flow is allowed and no constraint fails.
	OK bool `json:"ok"`
}

// ServiceSummary says which required flows of a service fail.
type ServiceSummary struct {
	Service  string   `json:"service"`
	Required int      `json:"required"`
	Allowed  int      `json:"required_allowed"`
	Failing  []string `json:"required_failing"`
}

// FlowResult is the audit of one flow (one protocol of a profile's flow).
type FlowResult struct {
	Service   string  `json:"service"`
	Flow      string  `json:"flow"`
	Direction string  `json:"direction"`
	Proto     string  `json:"proto"`
	Ports     string  `json:"ports"`
	Necessity string  `json:"necessity"`
	Verdict   Verdict `json:"verdict"`
	// Summary says in one line why.
	Summary  string   `json:"summary"`
	Parts    []Part   `json:"parts"`
	Shadowed []Shadow `json:"shadowed"`
	// ShadowedMore: more rules are shadowed than listed.
	ShadowedMore bool     `json:"shadowed_more,omitempty"`
	Notes        []string `json:"notes,omitempty"`
	// attach: rules attaching a conntrack helper or timeout that the
	// first packets met (true) or may have (false)
	attach map[*ruleset.Rule]bool
}

// Part is a set of the flow's packets that ends the same way. Addresses,
// ports and interfaces are those of the flow's first packet (for a reply,
// swap them).
type Part struct {
	Result string `json:"result"` // accepted, dropped, diverted, unknown
	// Packet is which packet of the connection is decided: new (the
	// first), reply (the first answer) or established (those after).
	Packet   string `json:"packet"`
	Family   int    `json:"family"`
	Hook     string `json:"hook"`
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	SrcPorts string `json:"sport"`
	DstPorts string `json:"dport"`
	IIf      string `json:"iif,omitempty"`
	OIf      string `json:"oif,omitempty"`
	// Except counts the pieces of these addresses and ports that other
	// rules decide: the part is what they leave.
	Except  int      `json:"except,omitempty"`
	Rule    *RuleRef `json:"rule,omitempty"`
	Why     string   `json:"why,omitempty"`
	Witness *Packet  `json:"witness,omitempty"`
	// Trail is each base chain's decision on the first packet.
	Trail []RuleRef `json:"trail,omitempty"`
	// Replies and Later name what let the first reply and the packets
	// after through (for accepted parts).
	Replies *RuleRef `json:"replies,omitempty"`
	Later   *RuleRef `json:"later,omitempty"`
	// NAT names the rules that translated the first packet (DNAT, SNAT
	// or masquerade), for accepted parts: they do not decide whether it
	// passes.
	NAT []RuleRef `json:"nat,omitempty"`
}

// RuleRef names a rule, or a chain's policy.
type RuleRef struct {
	Chain   string `json:"chain"`
	Handle  int64  `json:"handle,omitempty"`
	Line    int    `json:"line,omitempty"`
	Text    string `json:"text,omitempty"`
	Policy  bool   `json:"policy,omitempty"`
	Verdict string `json:"verdict,omitempty"`
}

func (r RuleRef) String() string {
	switch {
	case r.Policy:
		s := "policy " + r.Verdict + " of chain " + r.Chain
		if r.Line > 0 {
			s += fmt.Sprintf(" (line %d)", r.Line)
		}
		return s
	case r.Line > 0 && r.Text != "":
		return fmt.Sprintf("line %d: %s", r.Line, r.Text)
	case r.Handle > 0:
		return fmt.Sprintf("%s handle %d", r.Chain, r.Handle)
	}
	return r.Chain
}

// Packet is a concrete packet: a witness of a part.
type Packet struct {
	Family  int    `json:"family"`
	Proto   string `json:"proto"`
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	IIf     string `json:"iif,omitempty"`
	OIf     string `json:"oif,omitempty"`
	CtState string `json:"ct_state"`
	Flags   string `json:"tcp_flags,omitempty"`
}

func (p Packet) String() string {
	s := fmt.Sprintf("%s %s > %s", p.Proto, p.Src, p.Dst)
	if p.Flags != "" {
		s += " [" + p.Flags + "]"
	}
	if p.IIf != "" || p.OIf != "" {
		s += fmt.Sprintf(" in %s out %s", orNone(p.IIf), orNone(p.OIf))
	}
	return s + " ct " + p.CtState
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Shadow is a rule that would match some of the flow's first packets but
// never sees them, because an earlier rule decided them.
type Shadow struct {
	Rule RuleRef  `json:"rule"`
	By   *RuleRef `json:"by,omitempty"`
}

// Audit checks the rules policy.Plan made (and the flows it skipped)
// against the ruleset.
func (a *Auditor) Audit(rules []policy.Rule, skips []policy.Skip, opt Options) *Report {
	if opt.MaxShadowed == 0 {
		opt.MaxShadowed = 20
	}
	if opt.MaxParts == 0 {
		opt.MaxParts = 40
	}
	rep := &Report{Format: a.rs.Format, Mode: a.site.Mode, Flows: []FlowResult{}, Services: []ServiceSummary{}, Notes: slices.Clone(a.rs.Notes)}
	if rep.Notes == nil {
		rep.Notes = []string{}
	}
	if h := XtHint(a.rs); h != "" {
		rep.Notes = append(rep.Notes, h)
	}
	if a.site.Mode == policy.Gateway && a.matchesIfs && (a.site.LANIf == "" || a.site.WANIf == "") {
		rep.Notes = append(rep.Notes, "the ruleset matches interface names, and --lan-if or --wan-if is not given: every interface is considered, which may make flows partial")
	}
	// Group the plan's rules by flow, in order.
	var order []*resolve.Concrete
	byFlow := map[*resolve.Concrete][]int{}
	for i, r := range rules {
		if _, ok := byFlow[r.Flow]; !ok {
			order = append(order, r.Flow)
		}
		byFlow[r.Flow] = append(byFlow[r.Flow], i)
	}
	// Each evaluation is kept until the last flow that needs it is done.
	// Its key is made once.
	evs := make([][]eval, len(order))
	a.mu.Lock()
	a.uses = map[string]int{}
	for i, f := range order {
		evs[i] = evals(rules, byFlow[f])
		for j := range evs[i] {
			e := &evs[i][j]
			e.key = a.key(*e.r, e.fw, opt)
			a.uses[e.key]++
		}
	}
	a.mu.Unlock()
	// Flows are independent and the compiled ruleset is only read: audit
	// them on every core, keeping their order.
	res := make([]FlowResult, len(order))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(order)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res[i] = a.auditFlow(order[i], rules, byFlow[order[i]], evs[i], opt)
			}
		}()
	}
	for i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	rep.Flows = append(rep.Flows, res...)
	infos := make([]flowInfo, len(order))
	for i, f := range order {
		infos[i] = flowInfo{res: &rep.Flows[i], flow: f, attach: rep.Flows[i].attach}
	}
	rep.Constraints = a.constraints(opt.Constraints, infos)
	for _, s := range skips {
		fr := newFlowResult(s.Flow)
		fr.Verdict = Skipped
		fr.Summary = s.Reason
		rep.Flows = append(rep.Flows, fr)
	}
	rep.OK = true
	idx := map[string]int{}
	for _, fr := range rep.Flows {
		i, ok := idx[fr.Service]
		if !ok {
			i = len(rep.Services)
			idx[fr.Service] = i
			rep.Services = append(rep.Services, ServiceSummary{Service: fr.Service, Failing: []string{}})
		}
		if fr.Necessity != string(model.Required) || fr.Verdict == Skipped {
			continue
		}
		s := &rep.Services[i]
		s.Required++
		if fr.Verdict == Allowed {
			s.Allowed++
		} else {
			s.Failing = append(s.Failing, fr.Flow)
			rep.OK = false
		}
	}
	for _, c := range rep.Constraints {
		if c.Status == ConstraintFail {
			rep.OK = false
		}
	}
	return rep
}

func newFlowResult(f *resolve.Concrete) FlowResult {
	return FlowResult{
		Service: f.Service, Flow: f.ID, Direction: string(f.Direction), Proto: f.Proto,
		Ports: f.Ports.String(), Necessity: string(f.Necessity), Parts: []Part{}, Shadowed: []Shadow{},
	}
}

// auditFlow audits flow f: its plan rules are rules[idx], their
// evaluations es.
func (a *Auditor) auditFlow(f *resolve.Concrete, rules []policy.Rule, idx []int, es []eval, opt Options) FlowResult {
	fr := newFlowResult(f)
	if len(f.Unresolved) > 0 {
		fr.Notes = append(fr.Notes, "names without an address are not checked: "+strings.Join(f.Unresolved, ", "))
	}
	sh := newShadows(opt.MaxShadowed)
	ts := make([]*tally, 0, len(es))
	n := 0
	for _, e := range es {
		t, note := a.evalCached(e.key, *e.r, e.fw, opt, sh)
		if note != "" {
			fr.Notes = append(fr.Notes, note)
		}
		if t != nil {
			ts = append(ts, t)
			n += t.n
		}
	}
	if clash(ts) {
		// Two evaluations of one family and hook may share a group that
		// one of them did not keep: tally them again, keeping every group.
		ts = ts[:0]
		for _, e := range es {
			t := newTally(string(e.r.Hook), e.r.Match.Family, math.MaxInt)
			if a.follow(*e.r, e.fw, opt, newShadows(opt.MaxShadowed), false, t.add) == "" {
				ts = append(ts, t)
			}
		}
	}
	for _, s := range sh.result() {
		if len(fr.Shadowed) == opt.MaxShadowed {
			fr.ShadowedMore = true
			break
		}
		x := Shadow{Rule: ref(s.rule, nil)}
		if s.by != nil {
			b := ref(s.by, nil)
			x.By = &b
		}
		fr.Shadowed = append(fr.Shadowed, x)
	}
	fr.ShadowedMore = fr.ShadowedMore || sh.more
	fr.attach = sh.helpers
	var checked model.PortSet
	for _, i := range idx {
		checked = checked.Union(rules[i].Match.DstPorts)
	}
	if !checked.Empty() {
		fr.Ports = checked.String()
	}
	fr.Parts, fr.Verdict = a.parts(ts, f, opt)
	a.release(es)
	if n == 0 {
		fr.Verdict = Unknown
		if len(fr.Notes) == 0 {
			fr.Notes = append(fr.Notes, "no packet to check")
		}
	}
	fr.Summary = summarize(fr)
	return fr
}

// clash reports whether two tallies of one family and hook, whose groups
// may be the same, kept only some of them.
func clash(ts []*tally) bool {
	for i, t := range ts {
		for _, u := range ts[i+1:] {
			if t.fam == u.fam && t.hook == u.hook && (t.overflowed() || u.overflowed()) {
				return true
			}
		}
	}
	return false
}

// eval is one evaluation a flow needs: a plan rule, and for a port
// forward the forward rule after it; key names its packet set (Auditor.key).
type eval struct {
	r, fw *policy.Rule
	key   string
}

// evals lists the evaluations of a flow's plan rules (rules[idx]).
func evals(rules []policy.Rule, idx []int) []eval {
	var out []eval
	for k, i := range idx {
		r := &rules[i]
		if r.Hook == policy.Forward && k > 0 && rules[idx[k-1]].Hook == policy.Prerouting {
			continue // the forward half of a port forward: followed from prerouting
		}
		var fw *policy.Rule
		if r.Hook == policy.Prerouting && k+1 < len(idx) && rules[idx[k+1]].Hook == policy.Forward {
			fw = &rules[idx[k+1]]
		}
		out = append(out, eval{r: r, fw: fw})
	}
	return out
}

// release frees the cached evaluations no flow still needs.
func (a *Auditor) release(es []eval) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.uses == nil {
		return
	}
	for _, e := range es {
		k := e.key
		if a.uses[k]--; a.uses[k] <= 0 {
			delete(a.uses, k)
			delete(a.cache, k)
		}
	}
}

func newShadows(max int) *shadows {
	return &shadows{max: max, seen: map[*ruleset.Rule]bool{}, reached: map[*ruleset.Rule]bool{}, unsure: map[int32]bool{}}
}

// cached is the evaluation of one packet set, which several flows may
// share (TCP 443 to any host, say): it is done once.
type cached struct {
	once sync.Once
	t    *tally
	note string
	sh   *shadows
}

// evalCached is follow, done once per distinct packet set (key, of
// Auditor.key), its outcomes tallied as they come rather than held; the
// rules it shadows are added to sh. The tally is nil when there is
// nothing to evaluate (note says why).
func (a *Auditor) evalCached(key string, r policy.Rule, fw *policy.Rule, opt Options, sh *shadows) (*tally, string) {
	a.mu.Lock()
	c := a.cache[key]
	if c == nil {
		c = &cached{}
		a.cache[key] = c
	}
	a.mu.Unlock()
	c.once.Do(func() {
		c.sh = newShadows(sh.max)
		t := newTally(string(r.Hook), r.Match.Family, opt.MaxParts)
		if c.note = a.follow(r, fw, opt, c.sh, false, t.add); c.note == "" {
			t.idx = nil // only read from now on
			c.t = t
		}
	})
	for _, s := range c.sh.list {
		if !sh.seen[s.rule] {
			sh.seen[s.rule] = true
			sh.list = append(sh.list, s)
		}
	}
	sh.from = append(sh.from, c.sh) // what it reached, read rather than copied
	for k, sure := range c.sh.helpers {
		if sh.helpers == nil {
			sh.helpers = map[*ruleset.Rule]bool{}
		}
		sh.helpers[k] = sh.helpers[k] || sure
	}
	sh.more = sh.more || c.sh.more
	return c.t, c.note
}

// key names the packet set of a plan rule and what it needs.
func (a *Auditor) key(r policy.Rule, fw *policy.Rule, opt Options) string {
	c, empty := a.cube(r, fw, opt)
	fam := r.Match.Family
	return strings.Join([]string{string(r.Hook), fmt.Sprint(fam), r.Match.Proto, r.DNAT.String(), empty, fmt.Sprint(opt.MaxParts),
		c.Src.Format(fam), c.Dst.Format(fam), c.SPort.String(), c.DPort.String(),
		fmt.Sprint(c.IIf.Classes()), fmt.Sprint(c.OIf.Classes())}, "|")
}

// follow follows one rule of the plan (and a port forward's forward rule
// fw): the first packet, then for what passes the first reply, then the
// packets after. It gives each outcome to sink as soon as it is decided,
// in order, rather than a list of them: the reply to the first packets
// of a part is followed as soon as they are accepted, and the packets
// after as soon as the reply is. It returns a note when there is
// nothing to evaluate.
func (a *Auditor) follow(r policy.Rule, fw *policy.Rule, opt Options, sh *shadows, anyDNAT bool, sink func(outcome)) string {
	fam := r.Match.Family
	c, empty := a.cube(r, fw, opt)
	if empty != "" {
		return fmt.Sprintf("IPv%d: %s", fam, empty)
	}
	if !a.rs.HasFamily(fam) {
		why := fmt.Sprintf("the ruleset has no IPv%d part (for iptables, add the ip6tables-save output)", fam)
		sink(outcome{reg: space.Whole(c), res: unknown, why: why})
		return ""
	}
	p := a.progs[fam]
	proto := uint32(ruleset.ProtoTCP)
	if r.Match.Proto == model.UDP {
		proto = ruleset.ProtoUDP
	}
	var orig, reply []string
	switch r.Hook {
	case policy.Forward, policy.Prerouting:
		orig = []string{"prerouting", "forward", "postrouting"}
		reply = orig
	case policy.Input:
		orig, reply = []string{"prerouting", "input"}, []string{"output", "postrouting"}
	case policy.Output:
		orig, reply = []string{"output", "postrouting"}, []string{"prerouting", "input"}
	}
	full := space.Cube{
		Src: space.AllAddrs(fam), Dst: space.AllAddrs(fam),
		SPort: space.AllPortsWithZero(), DPort: space.AllPortsWithZero(),
		IIf: a.ifaces.All(), OIf: a.ifaces.All(),
	}
	none, _ := a.ifaces.Class("")
	mk := func(pa *path, s *shadows) *evaluator {
		return &evaluator{p: p, pa: pa, full: full, none: none, noIf: a.ifaces.Of(""), shadow: s, obs: s}
	}
	op := p.path(orig...)
	if r.Hook == policy.Prerouting {
		op.expect, op.anyDNAT = r.DNAT, anyDNAT
	}
	rp := p.path(reply...)
	// fo is the first packets' outcome whose reply is followed, ro the
	// reply's whose packets after are: a reply is followed once the
	// first packets are accepted, before the rest of them are decided.
	// The holes the reply's run adds to a region lie in its base, which
	// the regions still on their way, whose holes it may share, are apart
	// from: none of them sees those holes.
	var fo, ro outcome
	e1, e2, e3 := mk(op, sh), mk(rp, nil), mk(op, nil)
	e3.emit = func(ao outcome) {
		ao.first = fo.trail
		if ao.res == accepted {
			ao.replyBy = decider(ro.trail, string(r.Hook))
			ao.laterBy = decider(ao.trail, string(r.Hook))
			ao.trail = fo.trail // the first packet's decisions say why
		}
		sink(ao)
	}
	e2.emit = func(o outcome) {
		if o.res != accepted {
			o.first = fo.trail
			sink(o)
			return
		}
		ro = o
		e3.walk([]space.Region{o.reg}, state{kind: origEst, nat: fo.nat, routed: true}, proto)
	}
	e1.emit = func(o outcome) {
		if o.res != accepted {
			sink(o)
			return
		}
		fo = o
		e2.walk([]space.Region{o.reg}, state{kind: replyEst, nat: o.nat}, proto)
	}
	e1.walk([]space.Region{space.Whole(c)}, state{kind: origNew}, proto)
	return ""
}

// cube is the packets of a plan rule, in the coordinates of its first
// packet; empty says why there are none.
func (a *Auditor) cube(r policy.Rule, fw *policy.Rule, opt Options) (space.Cube, string) {
	fam := r.Match.Family
	m := r.Match
	c := space.Cube{Src: space.AllAddrs(fam), Dst: space.AllAddrs(fam), SPort: model.AllPorts(), DPort: model.AllPorts()}
	if !m.AnySrc() {
		c.Src = space.FromPrefixes(ofFamily(m.SrcAddrs(), fam))
		if c.Src.Empty() {
			return c, "the remote names have no address of this family"
		}
	}
	if !m.AnyDst() {
		c.Dst = space.FromPrefixes(ofFamily(m.DstAddrs(), fam))
		if c.Dst.Empty() {
			return c, "the remote names have no address of this family"
		}
	}
	if r.Hook == policy.Prerouting && len(opt.WANAddrs) > 0 {
		var rs []space.Range
		for _, w := range opt.WANAddrs {
			if w.Unmap().Is4() == (fam == 4) {
				rs = append(rs, space.AddrRange(w, w))
			}
		}
		if len(rs) > 0 {
			c.Dst = space.AddrsOf(rs...)
		}
	}
	if !m.SrcPorts.Empty() {
		c.SPort = m.SrcPorts
	}
	if !m.DstPorts.Empty() {
		c.DPort = m.DstPorts
	}
	iface := func(name string) space.IfSet {
		if name == "" {
			return a.ifaces.Real()
		}
		return a.ifaces.Of(name)
	}
	c.IIf, c.OIf = iface(m.IIf), iface(m.OIf)
	switch r.Hook {
	case policy.Input:
		c.OIf = a.ifaces.Of("")
	case policy.Output:
		c.IIf = a.ifaces.Of("")
	case policy.Prerouting:
		c.OIf = a.ifaces.Real()
		if fw != nil && fw.Match.OIf != "" {
			c.OIf = a.ifaces.Of(fw.Match.OIf)
		}
	}
	return c, ""
}

func ofFamily(ps []netip.Prefix, fam int) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if p.Addr().Unmap().Is4() == (fam == 4) {
			out = append(out, p)
		}
	}
	return out
}
