// Package nftjson reads the JSON that `nft -j list ruleset` prints into
// the audit's ruleset model. Expressions it does not understand (xt
// blobs, limits, marks, raw payloads…) are kept on their rule as unknown,
// never dropped; input that is not such JSON is an error naming the JSON
// path, and the rule's handle where there is one.
package nftjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
)

// MaxSize bounds the input Parse accepts (the JSON of a 100,000-rule
// ruleset is about 40 MB).
const MaxSize = 1 << 30

// Error is input that is not `nft -j list ruleset` JSON.
type Error struct {
	File   string
	Line   int    // for syntax errors
	Col    int    // for syntax errors
	Path   string // JSON path: nftables[12].rule.expr[2].match.right
	Handle int64  // the rule's or chain's handle, when known
	What   string // "rule inet filter forward", when known
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	if e.Path != "" {
		b.WriteString(": " + e.Path)
	}
	if e.What != "" || e.Handle != 0 {
		b.WriteString(" (")
		b.WriteString(e.What)
		if e.Handle != 0 {
			if e.What != "" {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "handle %d", e.Handle)
		}
		b.WriteString(")")
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Looks reports whether data looks like nft JSON (for format detection).
func Looks(data []byte) bool {
	d := bytes.TrimLeft(data, " \t\r\n")
	return len(d) > 0 && d[0] == '{' && bytes.Contains(d[:min(len(d), 4096)], []byte(`"nftables"`))
}

type setDef struct {
	fields     []string // element types
	elems      []any
	isMap      bool
	verdictMap bool
	path       string
}

type parser struct {
	file   string
	rs     *ruleset.Ruleset
	chains map[string]*ruleset.Chain
	sets   map[string]*setDef
	notes  map[string]bool // kinds of objects noted as not read
	in     ruleset.Interner
	terms  []ruleset.Term // scratch for a rule's terms
	// chains found before, by a hash of their name: without a key string
	recent [16]*ruleset.Chain
	// generic: a statement of the rule was read from the generic tree
	generic bool
	// deps are the dependencies of fastStmt, interned
	deps map[*ruleset.Term]ruleset.Term
	// same are the terms of fastStmt by their id, interned
	same []sameTerm
	size int // of the input
	// the rule being parsed, for errors: its handle, and what it is
	// (whatChain: a rule in that chain)
	handle    int64
	what      string
	whatChain *ruleset.Chain
	// ct helper and ct timeout objects; tables with xt expressions
	ctObjs map[string]*ctObject
	xtSeen map[string]bool
}

// Parse reads the output of `nft -j list ruleset`; file names it in errors.
//
// The elements of the document's "nftables" array are read one at a time
// and turned into the model at once, so that no tree of the whole document
// is ever held: declarations as they come, and rules as soon as their
// chain, the chains they jump to and the sets they name are declared, which
// is always so in the order nft prints (tables, objects, sets, chains, then
// rules). A rule that cannot be read yet waits, and every rule after it, for
// the end. Should a table declare a set or an object after its rules, the
// whole document is read again as one tree (parseTree), so that the result
// never depends on the order. Rules, and the statements nft prints in most
// of them, are read straight from the text rather than as a tree of
// objects (fast.go); what is written otherwise is read as generic JSON.
func Parse(file string, data []byte) (*ruleset.Ruleset, error) {
	if len(data) > MaxSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("larger than %d bytes", MaxSize)}
	}
	p := newParser(file)
	p.size = len(data)
	var waiting []ruleAt
	type tableKey struct{ fam, table string }
	ruled := map[tableKey]bool{} // tables with rules read
	again := false               // read it again as a tree
	handle := func(i int, el any) error {
		var k, fam, table string
		var body obj
		ra := ruleAt{i: i}
		if f, ok := el.(*fastRule); ok {
			k, fam, table, ra.f = "rule", f.family, f.table, f
		} else {
			var err error
			if k, body, err = p.element(i, el); err != nil {
				return err
			}
			fam, _ = str(body, "family")
			table, _ = str(body, "table")
			ra.o = body
		}
		switch k {
		case "rule":
			if len(waiting) == 0 {
				saved := len(p.rs.Notes)
				if p.rule(ra) == nil {
					ruled[tableKey{fam, table}] = true
					return nil
				}
				p.rs.Notes = p.rs.Notes[:saved]
			}
			waiting = append(waiting, ra)
			return nil
		case "metainfo", "table", "chain":
		default:
			// A late declaration may change rules already read.
			if ruled[tableKey{fam, table}] {
				again = true
				return nil
			}
		}
		return p.declare(i, k, body)
	}
	// One goroutine decodes elements, another turns them into the model,
	// in batches, in order.
	type item struct {
		i  int
		el any
	}
	const batchLen = 256
	batches := make(chan []item, 8)
	var semErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range batches {
			for _, it := range b {
				if semErr == nil && !again {
					semErr = handle(it.i, it.el)
				}
			}
		}
	}()
	batch := make([]item, 0, batchLen)
	isObj, found, err := stream(data, func(i int, el any) {
		if batch = append(batch, item{i, el}); len(batch) == batchLen {
			batches <- batch
			batch = make([]item, 0, batchLen)
		}
	})
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	<-done
	if err != nil {
		return nil, syntaxError(file, data, err)
	}
	if again {
		return parseTree(file, data)
	}
	if !isObj {
		return nil, &Error{File: file, Path: "$", Msg: "not a JSON object; expected the output of nft -j list ruleset"}
	}
	if !found {
		return nil, &Error{File: file, Path: "$", Msg: `no "nftables" array; expected the output of nft -j list ruleset`}
	}
	if semErr != nil {
		return nil, semErr
	}
	return p.finish(waiting)
}

// sameTerm is the term of the fastStmt of that id, interned.
type sameTerm struct {
	id uint32
	t  ruleset.Term
}

// ruleAt is the i-th element of the nftables array, a rule: its body
// o, or f when read straight.
type ruleAt struct {
	i int
	o obj
	f *fastRule
}

func newParser(file string) *parser {
	return &parser{file: file, rs: &ruleset.Ruleset{Format: ruleset.NftJSON, Families: []int{4, 6}},
		chains: map[string]*ruleset.Chain{}, sets: map[string]*setDef{}, notes: map[string]bool{}}
}

// element checks that el, the i-th element of the nftables array, is an
// object of one key, and returns the key and its body.
func (p *parser) element(i int, el any) (string, obj, error) {
	path := &jpath{k: "nftables", i: i, idx: true}
	o, ok := el.(obj)
	if !ok || len(o) != 1 {
		return "", nil, &Error{File: p.file, Path: path.String(), Msg: "each element must be an object with one key (table, chain, set, map, rule…)"}
	}
	k := o[0].k
	body, ok := o[0].v.(obj)
	if !ok {
		return "", nil, &Error{File: p.file, Path: (&jpath{up: path, k: k}).String(), Msg: "must be an object"}
	}
	return k, body, nil
}

// declare reads the i-th element of the nftables array, of key k, unless it
// is a rule.
func (p *parser) declare(i int, k string, body obj) error {
	path := &jpath{k: "nftables", i: i, idx: true}
	switch k {
	case "ct helper", "ct timeout":
		p.ctObj(k, body)
	case "metainfo", "table", "element", "flowtable", "counter", "quota", "limit",
		"ct expectation", "secmark", "synproxy":
	case "chain":
		return p.chain(&jpath{up: path, k: "chain"}, body)
	case "set", "map":
		return p.set(&jpath{up: path, k: k}, body, k == "map")
	default:
		if !p.notes[k] {
			p.notes[k] = true
			p.rs.Notes = append(p.rs.Notes, fmt.Sprintf("%s: %q objects are not read", path.String(), k))
		}
	}
	return nil
}

// finish reads the rules that waited and numbers the rules of each chain.
func (p *parser) finish(rules []ruleAt) (*ruleset.Ruleset, error) {
	for _, r := range rules {
		if err := p.rule(r); err != nil {
			return nil, err
		}
	}
	for _, c := range p.rs.Chains {
		for i, r := range c.Rules {
			r.Index = i
		}
	}
	return p.rs, nil
}

// parseTree reads the whole document as one tree, then its declarations,
// then its rules.
func parseTree(file string, data []byte) (*ruleset.Ruleset, error) {
	doc, err := decode(data)
	if err != nil {
		return nil, syntaxError(file, data, err)
	}
	top, ok := doc.(obj)
	if !ok {
		return nil, &Error{File: file, Path: "$", Msg: "not a JSON object; expected the output of nft -j list ruleset"}
	}
	list, ok := top.get("nftables").([]any)
	if !ok {
		return nil, &Error{File: file, Path: "$", Msg: `no "nftables" array; expected the output of nft -j list ruleset`}
	}
	p := newParser(file)
	// First tables, chains and sets, then rules, which refer to them.
	var rules []ruleAt
	for i, el := range list {
		k, body, err := p.element(i, el)
		if err != nil {
			return nil, err
		}
		if k == "rule" {
			rules = append(rules, ruleAt{i: i, o: body})
			continue
		}
		if err := p.declare(i, k, body); err != nil {
			return nil, err
		}
	}
	return p.finish(rules)
}

func syntaxError(file string, data []byte, err error) error {
	if se, ok := err.(*syntaxErr); ok {
		if se.msg == "empty input" {
			return &Error{File: file, Msg: "empty input; expected the output of nft -j list ruleset"}
		}
		line, col := lineCol(data, se.off)
		return &Error{File: file, Line: line, Col: col, Msg: se.msg}
	}
	return &Error{File: file, Msg: err.Error()}
}

func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

func (p *parser) errf(path *jpath, format string, args ...any) error {
	what := p.what
	if p.whatChain != nil {
		what = "rule in " + p.whatChain.String()
	}
	return &Error{File: p.file, Path: path.String(), Handle: p.handle, What: what, Msg: fmt.Sprintf(format, args...)}
}

// jpath is a JSON path, spelled out only when an error names it: member
// k of up (k alone at the root), then index i when idx; k is empty for an
// index of up itself.
type jpath struct {
	up  *jpath
	k   string
	i   int
	idx bool
}

// String spells the path: nftables[12].rule.expr[2].match.right.
func (j *jpath) String() string {
	var b strings.Builder
	j.write(&b)
	return b.String()
}

// spelled is the path of element i of member k, spelled out: for the
// recursion of expressions, through which a chain of paths would escape
// to the heap at every level.
func (j *jpath) spelled(k string, i int) *jpath {
	return &jpath{k: (&jpath{up: j, k: k, i: i, idx: true}).String()}
}

func (j *jpath) write(b *strings.Builder) {
	if j == nil {
		return
	}
	j.up.write(b)
	if j.k != "" {
		if j.up != nil {
			b.WriteByte('.')
		}
		b.WriteString(j.k)
	}
	if j.idx {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(j.i))
		b.WriteByte(']')
	}
}

func str(o obj, k string) (string, bool) {
	s, ok := o.get(k).(string)
	return s, ok
}

func num(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func intOf(v any) (int64, bool) {
	f, ok := num(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func key(family, table, name string) string { return family + "\x00" + table + "\x00" + name }

var knownFamily = map[string]bool{"ip": true, "ip6": true, "inet": true, "arp": true, "bridge": true, "netdev": true}

func (p *parser) chain(path *jpath, o obj) error {
	fam, ok1 := str(o, "family")
	table, ok2 := str(o, "table")
	name, ok3 := str(o, "name")
	h, _ := intOf(o.get("handle"))
	p.handle, p.what = h, "chain"
	defer func() { p.handle, p.what = 0, "" }()
	if !ok1 || !ok2 || !ok3 {
		return p.errf(path, "a chain needs family, table and name strings")
	}
	if !knownFamily[fam] {
		return p.errf(&jpath{up: path, k: "family"}, "unknown family %q", fam)
	}
	c := &ruleset.Chain{Family: fam, Table: table, Name: name, Pos: ruleset.Pos{Handle: h}}
	p.what = "chain " + c.String()
	if hook, ok := str(o, "hook"); ok {
		c.Base = true
		c.Hook = hook
		c.Type, _ = str(o, "type")
		if c.Type == "" {
			c.Type = "filter"
		}
		prio, ok := intOf(o.get("prio"))
		if !ok {
			if _, present := o.has("prio"); present {
				return p.errf(&jpath{up: path, k: "prio"}, "priority must be a number")
			}
		}
		c.Prio = int(prio)
		c.Policy = ruleset.Accept
		if pol, ok := str(o, "policy"); ok {
			switch pol {
			case "accept":
			case "drop":
				c.Policy = ruleset.Drop
			default:
				return p.errf(&jpath{up: path, k: "policy"}, "policy %q: accept or drop", pol)
			}
		}
	}
	k := key(fam, table, name)
	if _, dup := p.chains[k]; dup {
		return p.errf(path, "chain %s declared twice", c)
	}
	p.chains[k] = c
	switch fam {
	case "ip", "ip6", "inet":
		p.rs.Chains = append(p.rs.Chains, c)
	case "netdev":
		if c.Base {
			p.rs.Chains = append(p.rs.Chains, c)
		}
	default:
		if c.Base {
			p.rs.Notes = append(p.rs.Notes, fmt.Sprintf("%s chain %s is not evaluated: it does not see routed IP packets", fam, c))
		}
	}
	return nil
}

func (p *parser) set(path *jpath, o obj, isMap bool) error {
	fam, ok1 := str(o, "family")
	table, ok2 := str(o, "table")
	name, ok3 := str(o, "name")
	if !ok1 || !ok2 || !ok3 {
		return p.errf(path, "a set needs family, table and name strings")
	}
	d := &setDef{isMap: isMap, path: path.String()}
	switch t := o.get("type").(type) {
	case string:
		d.fields = []string{t}
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return p.errf(&jpath{up: path, k: "type"}, "set types must be strings")
			}
			d.fields = append(d.fields, s)
		}
	case nil:
	default:
		return p.errf(&jpath{up: path, k: "type"}, "must be a string or a list of strings")
	}
	if isMap {
		m, _ := str(o, "map")
		d.verdictMap = m == "verdict"
	}
	switch e := o.get("elem").(type) {
	case nil:
	case []any:
		d.elems = e
	default:
		return p.errf(&jpath{up: path, k: "elem"}, "must be a list")
	}
	p.sets[key(fam, table, name)] = d
	return nil
}

// setVerdict sets the rule's verdict unless an effect portolan cannot
// follow already made it unknown.
func setVerdict(r *ruleset.Rule, v ruleset.Verdict) {
	if r.Verdict.Kind != ruleset.Unknown {
		r.Verdict = v
	}
}

// unknownVerdict marks a rule whose action portolan cannot follow.
func unknownVerdict(why string) ruleset.Verdict {
	return ruleset.Verdict{Kind: ruleset.Unknown, Why: why}
}

// rule reads a rule into its chain.
func (p *parser) rule(ra ruleAt) error {
	path := &jpath{up: &jpath{k: "nftables", i: ra.i, idx: true}, k: "rule"}
	f := ra.f
	if f == nil {
		o := ra.o
		f = &fastRule{}
		var ok1, ok2, ok3, ok4 bool
		f.family, ok1 = str(o, "family")
		f.table, ok2 = str(o, "table")
		f.chain, ok3 = str(o, "chain")
		f.handle, _ = intOf(o.get("handle"))
		f.comment, f.hasComment = str(o, "comment")
		f.expr, ok4 = o.get("expr").([]any)
		f.badExpr = !ok4
		if !ok1 || !ok2 || !ok3 {
			p.handle, p.what = f.handle, "rule"
			defer func() { p.handle, p.what = 0, "" }()
			return p.errf(path, "a rule needs family, table and chain strings")
		}
	}
	return p.ruleOf(path, f)
}

// chainNamed returns the chain of that name, or nil.
func (p *parser) chainNamed(fam, table, name string) *ruleset.Chain {
	h := len(name)
	if h > 0 {
		h = h*7 + int(name[h-1]) + int(name[0])
	}
	r := &p.recent[h%len(p.recent)]
	if c := *r; c != nil && c.Name == name && c.Table == table && c.Family == fam {
		return c
	}
	c := p.chains[key(fam, table, name)]
	if c != nil {
		*r = c
	}
	return c
}

// ruleOf reads rule f, its family, table, chain and list of statements
// there.
func (p *parser) ruleOf(path *jpath, f *fastRule) error {
	fam, table, exprs, h := f.family, f.table, f.expr, f.handle
	p.handle, p.what, p.whatChain = h, "rule", nil
	defer func() { p.handle, p.what, p.whatChain = 0, "", nil }()
	c := p.chainNamed(fam, table, f.chain)
	if c == nil {
		return p.errf(&jpath{up: path, k: "chain"}, "chain %s %s %s is not declared", fam, table, f.chain)
	}
	p.whatChain = c
	if f.badExpr {
		return p.errf(&jpath{up: path, k: "expr"}, "must be a list of statements")
	}
	r := &ruleset.Rule{Chain: c, Pos: ruleset.Pos{Handle: h}, Terms: p.terms[:0]}
	p.generic = false
	if f.hasComment {
		r.Pos.Text = "comment " + strconv.Quote(f.comment)
	}
	for i, e := range exprs {
		if st, ok := e.(*fastStmt); ok {
			p.fastStatement(r, st)
			continue
		}
		ep := &jpath{up: path, k: "expr", i: i, idx: true}
		st, ok := e.(obj)
		if !ok || len(st) != 1 {
			return p.errf(ep, "a statement must be an object with one key")
		}
		p.generic = true
		if err := p.statement(ep, fam, table, r, st); err != nil {
			return err
		}
	}
	p.terms = r.Terms[:0] // scratch: copied out
	if p.generic {
		p.in.Rule(r)
	} else if len(r.Terms) == 0 {
		r.Terms = nil // as Interner.Rule does
	} else {
		// as Interner.Rule does: the terms of fastStmt are interned
		r.Terms = append(make([]ruleset.Term, 0, len(r.Terms)), r.Terms...)
	}
	switch fam {
	case "ip", "ip6", "inet", "netdev":
		c.Rules = append(c.Rules, r)
		if !p.generic {
			break // statements read straight are never "!=" matches
		}
		if r2 := mergedInequality(r, exprs); r2 != nil {
			c.Rules = append(c.Rules, r2)
		}
	}
	return nil
}

// fastStatement is statement for one read straight from the text.
func (p *parser) fastStatement(r *ruleset.Rule, f *fastStmt) {
	if r.Verdict.Kind != ruleset.Continue && r.Verdict.Kind != ruleset.Unknown {
		return // nothing after a verdict runs
	}
	switch f.kind {
	case fastMatch:
		// interned here rather than by Interner.Rule (see ruleOf)
		for i := range f.deps {
			r.Terms = append(r.Terms, p.dep(&f.deps[i]))
		}
		if p.same == nil {
			p.same = make([]sameTerm, sameStmts(p.size))
		}
		e := &p.same[f.id%uint32(len(p.same))]
		if e.id != f.id {
			e.id, e.t = f.id, p.in.Single(f.field, false, f.val)
		}
		r.Terms = append(r.Terms, e.t)
	case fastVerdict:
		setVerdict(r, ruleset.Verdict{Kind: f.verdict})
	}
}

// dep returns dependency *t, which the package shares, interned.
func (p *parser) dep(t *ruleset.Term) ruleset.Term {
	if d, ok := p.deps[t]; ok {
		return d
	}
	one := &ruleset.Rule{Terms: []ruleset.Term{*t}}
	p.in.Rule(one)
	d := one.Terms[0]
	if len(p.deps) < 64 {
		if p.deps == nil {
			p.deps = map[*ruleset.Term]ruleset.Term{}
		}
		p.deps[t] = d
	}
	return d
}

// neqField reads a statement "FIELD != VALUE" on a transport port or an
// address: its protocol, field, and the one value.
func neqField(e any) (proto, field string, val any, ok bool) {
	st, _ := e.(obj)
	m, _ := st.get("match").(obj)
	if op, _ := str(m, "op"); op != "!=" {
		return "", "", nil, false
	}
	l, _ := m.get("left").(obj)
	pl, _ := l.get("payload").(obj)
	proto, _ = str(pl, "protocol")
	field, _ = str(pl, "field")
	switch m.get("right").(type) {
	case string, json.Number:
	default:
		return "", "", nil, false
	}
	if s, isStr := m.get("right").(string); isStr && strings.HasPrefix(s, "@") {
		return "", "", nil, false
	}
	return proto, field, m.get("right"), proto != ""
}

// mergedInequality handles a quirk of nft: two adjacent "!=" matches on
// neighbouring header fields (tcp sport != A tcp dport != B; ip saddr !=
// A ip daddr != B) are merged by some nft versions (1.0.6 among them) into
// one comparison of both fields, which holds when either differs, and are
// printed back as two. Which the kernel holds cannot be told from the
// JSON. Rule r keeps the reading where both differ (it matches there
// either way); the returned rule covers where exactly one differs, where
// the kernel may or may not match, and says so.
func mergedInequality(r *ruleset.Rule, exprs []any) *ruleset.Rule {
	for i := 0; i+1 < len(exprs); i++ {
		p1, f1, v1, ok1 := neqField(exprs[i])
		p2, f2, v2, ok2 := neqField(exprs[i+1])
		if !ok1 || !ok2 || p1 != p2 {
			continue
		}
		pair := map[string]bool{f1 + "," + f2: true, f2 + "," + f1: true}
		var a, b ruleset.Field
		var isAddr bool
		switch {
		case (p1 == "tcp" || p1 == "udp" || p1 == "th" || p1 == "udplite" || p1 == "sctp" || p1 == "dccp") && pair["sport,dport"]:
			a, b = ruleset.SrcPort, ruleset.DstPort
		case (p1 == "ip" || p1 == "ip6") && pair["saddr,daddr"]:
			a, b, isAddr = ruleset.SrcAddr, ruleset.DstAddr, true
		default:
			continue
		}
		if f1 == "dport" || f1 == "daddr" {
			v1, v2 = v2, v1
		}
		// complement pieces of each value, for "equal here, differs there"
		var eqA, neA, eqB, neB []ruleset.Value
		if isAddr {
			x, err1 := netip.ParseAddr(fmt.Sprint(v1))
			y, err2 := netip.ParseAddr(fmt.Sprint(v2))
			if err1 != nil || err2 != nil {
				continue
			}
			eqA, neA = []ruleset.Value{ruleset.AddrValue(x, x)}, addrComplement(x.Unmap())
			eqB, neB = []ruleset.Value{ruleset.AddrValue(y, y)}, addrComplement(y.Unmap())
		} else {
			x, ok1 := intOf(v1)
			y, ok2 := intOf(v2)
			if !ok1 || !ok2 || x < 0 || x > 65535 || y < 0 || y > 65535 {
				continue
			}
			eqA, neA = []ruleset.Value{ruleset.PortValue(uint16(x), uint16(x))}, portComplement(uint16(x))
			eqB, neB = []ruleset.Value{ruleset.PortValue(uint16(y), uint16(y))}, portComplement(uint16(y))
		}
		r2 := &ruleset.Rule{Chain: r.Chain, Verdict: r.Verdict, Pos: r.Pos}
		if r.Map() != nil || len(r.Unknown()) > 0 {
			r2.X = &ruleset.Extras{Map: r.Map(), Unknown: slices.Clone(r.Unknown())}
		}
		for _, t := range r.Terms {
			if len(t.Fields) == 1 && t.Neg && (t.Fields[0] == a || t.Fields[0] == b) && len(t.Set) == 1 {
				continue
			}
			r2.Terms = append(r2.Terms, t)
		}
		either := ruleset.Term{Fields: []ruleset.Field{a, b}}
		for _, x := range eqA {
			for _, y := range neB {
				either.Set = append(either.Set, ruleset.Tuple{x, y})
			}
		}
		for _, x := range neA {
			for _, y := range eqB {
				either.Set = append(either.Set, ruleset.Tuple{x, y})
			}
		}
		r2.Terms = append(r2.Terms, either)
		r2.AddUnknown(fmt.Sprintf("%s %s != … %s != …: nft may have merged the two into one comparison that holds when either differs", p1, a, b))
		return r2
	}
	return nil
}

func portComplement(x uint16) []ruleset.Value {
	var out []ruleset.Value
	if x > 0 {
		out = append(out, ruleset.PortValue(0, x-1))
	}
	if x < 65535 {
		out = append(out, ruleset.PortValue(x+1, 65535))
	}
	return out
}

func addrComplement(x netip.Addr) []ruleset.Value {
	first, last := netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255})
	if x.Is6() {
		first = netip.IPv6Unspecified()
		last = netip.AddrFrom16([16]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})
	}
	var out []ruleset.Value
	if x != first {
		out = append(out, ruleset.AddrValue(first, x.Prev()))
	}
	if x != last {
		out = append(out, ruleset.AddrValue(x.Next(), last))
	}
	return out
}

// simpleVerdicts are the verdict statements without arguments.
var simpleVerdicts = map[string]ruleset.Kind{"accept": ruleset.Accept, "drop": ruleset.Drop,
	"return": ruleset.Return, "continue": ruleset.Continue}

// statement reads one statement of a rule into r.
func (p *parser) statement(path *jpath, fam, table string, r *ruleset.Rule, st obj) error {
	for _, mem := range st {
		k, v := mem.k, mem.v
		sp := &jpath{up: path, k: k}
		if r.Verdict.Kind != ruleset.Continue && r.Verdict.Kind != ruleset.Unknown {
			// Nothing after a verdict runs; nft does not print such rules.
			return nil
		}
		switch k {
		case "match":
			m, ok := v.(obj)
			if !ok {
				return p.errf(sp, "must be an object")
			}
			return p.match(sp, fam, table, r, m)
		case "accept", "drop", "return", "continue":
			setVerdict(r, ruleset.Verdict{Kind: simpleVerdicts[k]})
		case "reject":
			setVerdict(r, ruleset.Verdict{Kind: ruleset.Reject})
		case "jump", "goto":
			m, ok := v.(obj)
			target, ok2 := str(m, "target")
			if !ok || !ok2 {
				return p.errf(sp, `needs {"target": CHAIN}`)
			}
			if p.chainNamed(fam, table, target) == nil {
				return p.errf(&jpath{up: sp, k: "target"}, "chain %q does not exist in table %s %s", target, fam, table)
			}
			kd := ruleset.Jump
			if k == "goto" {
				kd = ruleset.Goto
			}
			setVerdict(r, ruleset.Verdict{Kind: kd, Chain: target})
		case "vmap":
			if r.Verdict.Kind == ruleset.Unknown {
				return nil
			}
			return p.vmap(sp, fam, table, r, v)
		case "dnat", "snat", "masquerade", "redirect":
			if k == "dnat" && r.Verdict.Kind == ruleset.Continue {
				if ok, err := p.dnatMap(sp, fam, table, r, v); err != nil || ok {
					return err
				}
			}
			setVerdict(r, natVerdict(k, v))
		case "ct helper", "ct timeout":
			// no effect on where the packet goes; the audit of
			// constraints reads them
			p.ctAttach(k, fam, table, r, v)
		case "counter", "log", "flow", "ct count", "last", "ct expectation":
			// no effect on where the packet goes
		case "mangle":
			r.Ext().Mutates = true
			if why := mangleEffect(v); why != "" {
				setVerdict(r, unknownVerdict(why))
			}
		case "limit", "quota", "meter":
			r.AddUnknown(k + " (depends on traffic already seen)")
		case "set", "map":
			// adds the packet's values to a set: no effect on this packet,
			// but a later lookup may answer otherwise
			r.Ext().Mutates = true
		case "xt":
			p.xt(fam, table, r, v)
		case "notrack":
			setVerdict(r, unknownVerdict("notrack: the packet leaves connection tracking"))
		case "queue":
			setVerdict(r, unknownVerdict("queue: a userspace program decides"))
		default:
			setVerdict(r, unknownVerdict(fmt.Sprintf("statement %q", k)))
		}
	}
	return nil
}

// mangleEffect says why a mangle statement changes what later rules see, or
// "" when it does not (marks, trace, priorities, dscp, TCP options such as
// the MSS clamp of "tcp option maxseg size set rt mtu").
func mangleEffect(v any) string {
	m, _ := v.(obj)
	k, _ := m.get("key").(obj)
	if meta, ok := k.get("meta").(obj); ok {
		key, _ := str(meta, "key")
		switch key {
		case "mark", "nftrace", "priority", "secmark":
			return ""
		}
		return "meta " + key + " set"
	}
	if ct, ok := k.get("ct").(obj); ok {
		key, _ := str(ct, "key")
		switch key {
		case "mark", "label", "zone", "event", "secmark", "expiration":
			return ""
		}
		return "ct " + key + " set"
	}
	if pl, ok := k.get("payload").(obj); ok {
		proto, _ := str(pl, "protocol")
		field, _ := str(pl, "field")
		switch field {
		case "dscp", "ecn", "ttl", "hoplimit", "flowlabel", "checksum":
			return ""
		}
		return fmt.Sprintf("%s %s set (rewrites the packet)", proto, field)
	}
	if _, ok := k.has("tcp option"); ok {
		return ""
	}
	return "mangle of a field portolan does not follow"
}

func natVerdict(kind string, v any) ruleset.Verdict {
	switch kind {
	case "masquerade":
		return ruleset.Verdict{Kind: ruleset.SNAT, Why: "masquerade"}
	case "snat":
		return ruleset.Verdict{Kind: ruleset.SNAT}
	case "redirect":
		return ruleset.Verdict{Kind: ruleset.Redirect}
	}
	out := ruleset.Verdict{Kind: ruleset.DNAT}
	m, ok := v.(obj)
	if !ok {
		out.Why = "dnat without an address"
		return out
	}
	if _, ok := m.has("flags"); ok {
		out.Why = "dnat with flags"
		return out
	}
	as, ok := m.get("addr").(string)
	if !ok {
		out.Why = "dnat to a map, range or expression"
		return out
	}
	a, err := netip.ParseAddr(as)
	if err != nil {
		out.Why = fmt.Sprintf("dnat to %q", as)
		return out
	}
	if pv, ok := m.has("port"); ok {
		n, ok := intOf(pv)
		if !ok || n < 1 || n > 65535 {
			out.Why = "dnat to a port range or expression"
			return out
		}
		out.Port = uint16(n)
	}
	out.To = a.Unmap()
	return out
}
