package extract

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/portolan/portolan/model"
)

// draftFlow is a flow as read, before it becomes a model.Flow.
type draftFlow struct {
	dir       model.Direction
	proto     string
	ports     []string
	srcPorts  []string
	hosts     []string
	necessity model.Necessity
	app       string
	purpose   string
	condition string // the document's words on when the flow is needed
	quote     string
	line      int
	oneOf     bool
	notes     []string
	id        string
	unit      int          // the unit it was read from
	fallback  []*draftFlow // the flows tried when this one fails

}

// Unread is a line that mentions a port, protocol, address or host and
// gave nothing.
type Unread struct {
	Line int
	Text string
}

// extractor holds the state of one reading.
type extractor struct {
	doc    *Document
	lang   string
	frLike bool

	flows []*draftFlow
	cons  []*draftConstraint
	pools []*pool
	notes []string // notes about the whole profile
	// unread lines, by line number
	unread map[int]string
	params map[string]paramInfo

	ctx      []context
	pool     *pool // host-only lines of the current section
	table    int
	roles    []colRole
	hdrHosts []string
	consumed map[int]bool // units whose hosts a lead took

	folded       map[int]string      // source lines, white space folded, for quote
	srcPorts     *[]string           // findPorts puts source ports here
	appHosts     map[string][]string // the document's host names by first label (sip → sip.vendor.example)
	noProto      []token             // findPorts puts ports it found no protocol for here
	hostsOf      []string            // unitHosts' last answer
	lastRowHosts []string            // the hosts of the table's last row that named some
	hostsOfUnit  *Unit
}

type paramInfo struct {
	placeholder string
	line        int
	quote       string
}

// pool gathers the host-only lines of a section.
type pool struct {
	hosts []string
	used  bool
	line  int
	quote string
	title string
}

func (x *extractor) run() {
	x.unread = map[int]string{}
	x.params = map[string]paramInfo{}
	x.consumed = map[int]bool{}
	x.pool = &pool{}
	x.pools = append(x.pools, x.pool)
	x.appHosts = map[string][]string{}
	for i := range x.doc.Units {
		for _, t := range lex(x.doc.Units[i].Text, x.frLike) {
			if t.kind == tHost && len(t.entries) == 1 && t.template == "" {
				if e, err := model.ParseEntry(t.entries[0]); err == nil && e.Kind == model.EntryName {
					label, _, _ := strings.Cut(e.Domain, ".")
					x.appHosts[label] = appendNew(x.appHosts[label], e.Domain)
				}
			}
		}
	}
	for i := range x.doc.Units {
		u := &x.doc.Units[i]
		switch u.Kind {
		case Heading:
			for len(x.ctx) > 0 && x.ctx[len(x.ctx)-1].level >= u.Level {
				x.ctx = x.ctx[:len(x.ctx)-1]
			}
			low := strings.ToLower(u.Text)
			x.ctx = append(x.ctx, context{level: u.Level, dir: dirWords(low), necessity: needWords(low)})
			x.newPool(u.Text)
			toks := lex(u.Text, x.frLike)
			x.statement(i, u, toks, 0, len(u.Text), true)
		case Row:
			if u.Table != x.table {
				x.table, x.roles, x.hdrHosts, x.lastRowHosts = u.Table, nil, nil, nil
				if roles, ok := classifyHeader(u); ok || u.Header {
					x.roles = roles
					for _, t := range lex(u.Text, x.frLike) {
						if t.kind == tHost {
							x.hdrHosts = appendNew(x.hdrHosts, t.entries...)
							x.noteTemplate(u, t)
						}
					}
					continue
				}
			} else if u.Header {
				continue
			}
			toks := lex(u.Text, x.frLike)
			if x.consumed[i] {
				continue
			}
			if hostsNoPorts(toks) {
				x.addPool(u, toks) // a table of hosts: for the flows the section states after it
				continue
			}
			x.statement(i, u, toks, 0, len(u.Text), false)
		default:
			if u.Kind == Para {
				// "Eingehende Ports:", "… forwarded to the server:": context
				// for the rows and items that follow, to the next paragraph
				low := strings.ToLower(u.Text)
				if n := len(x.ctx); n > 0 && x.ctx[n-1].level == 99 && prose(u.Text) {
					x.ctx = x.ctx[:n-1]
				}
				if x.isLead(u) {
					if d := dirWords(low); d != "" {
						x.setLeadContext(context{dir: d, necessity: needWords(low)})
					}
				}
			}
			toks := lex(u.Text, x.frLike)
			if x.consumed[i] {
				continue
			}
			if x.hostOnly(u, toks) {
				x.addPool(u, toks)
				continue
			}
			for _, s := range sentences(toks, len(u.Text)) {
				x.statement(i, u, toks, s[0], s[1], false)
			}
		}
	}
}

func (x *extractor) newPool(title string) {
	x.pool = &pool{title: title}
	x.pools = append(x.pools, x.pool)
}

// hostOnly says whether a unit is a list of hosts and little else.
func (x *extractor) hostOnly(u *Unit, toks []token) bool {
	hosts, letters := 0, 0
	for _, t := range toks {
		switch t.kind {
		case tHost:
			hosts++
		case tWord:
			letters += utf8.RuneCountInString(t.word)
		case tNum, tProto:
			return false
		}
	}
	return hosts > 0 && letters <= 12
}

func (x *extractor) addPool(u *Unit, toks []token) {
	for _, t := range toks {
		if t.kind == tHost && len(x.pool.hosts) < maxPool {
			x.pool.hosts = appendNew(x.pool.hosts, t.entries...)
			x.noteTemplate(u, t)
			if x.pool.line == 0 {
				x.pool.line, x.pool.quote = x.quote(u, 0, len(u.Text), t.off)
			}
		}
	}
}

// maxPool bounds the hosts one section's host lines gather.
const maxPool = 512

// sentences splits a unit's tokens into sentences: [start, end) offsets.
func sentences(toks []token, n int) [][2]int {
	var out [][2]int
	start := 0
	for _, t := range toks {
		if t.kind == tSep && t.word != ";" && t.word != "；" {
			out = append(out, [2]int{start, t.end})
			start = t.end
		}
	}
	if start < n {
		out = append(out, [2]int{start, n})
	}
	return out
}

// statement reads one sentence or table row: its constraints, or its
// flows.
func (x *extractor) statement(ui int, u *Unit, all []token, a, b int, heading bool) {
	i := sort.Search(len(all), func(k int) bool { return all[k].off >= a })
	j := sort.Search(len(all), func(k int) bool { return all[k].end > b })
	if j < i {
		j = i
	}
	toks := all[i:j]
	if len(toks) == 0 {
		return
	}
	text := u.Text[a:b]
	low := strings.ToLower(text)
	mentions := false
	for _, t := range toks {
		if t.kind == tProto || t.kind == tHost {
			mentions = true
		}
	}
	var src []string
	x.srcPorts = &src
	x.noProto = x.noProto[:0]
	ports := x.findPorts(u, toks)
	x.srcPorts = nil
	if len(ports) > 0 {
		mentions = true
	}
	if len(x.noProto) > 0 && !heading {
		// ports with no protocol anywhere near: said, not guessed
		var ps []string
		for _, t := range x.noProto {
			ps = appendNew(ps, rangeString(t.lo, t.hi))
		}
		line := u.LineAt(x.noProto[0].off)
		if _, ok := x.unread[line]; !ok {
			x.unread[line] = fmt.Sprintf("port %s: no protocol (TCP or UDP) given: %s", strings.Join(ps, ", "), clip(strings.TrimSpace(text), 100))
		}
	}
	lead := strings.HasSuffix(strings.TrimSpace(text), ":") || strings.HasSuffix(strings.TrimSpace(text), "：")
	if !heading && x.constraints(ui, u, toks, a, b, ports, lead) {
		return
	}
	var leadHs []string
	if heading {
		// "### TCP 443" over a list of hosts
		if len(ports) == 0 {
			return
		}
		if leadHs = x.leadHosts(ui); len(leadHs) == 0 {
			return
		}
	}
	if len(ports) == 0 {
		if mentions && !x.consumed[ui] {
			x.unreadLine(u, a, b, toks)
		}
		return
	}
	// hosts: the statement's, the unit's, a list the lead introduces, the
	// section's host lines, the table header's, or any.
	var hosts []string
	hostNote := ""
	for _, t := range toks {
		if t.kind == tHost {
			hosts = appendNew(hosts, t.entries...)
			x.noteTemplate(u, t)
		}
	}
	if u.Kind == Row {
		if len(hosts) == 0 && len(x.lastRowHosts) > 0 && len(u.Cells) < len(x.roles) {
			// a merged cell: the row above names the hosts
			hosts = append(hosts, x.lastRowHosts...)
			hostNote = "the row has fewer cells than the header: read as the hosts of the row above (a merged cell)"
		}
		if len(hosts) > 0 {
			x.lastRowHosts = hosts
		}
		hosts = appendNew(hosts, x.hdrHosts...)
	}
	if len(leadHs) > 0 {
		hosts = leadHs
		hostNote = "the hosts are the list under the heading"
	}
	if len(hosts) == 0 && u.Kind != Row && (containsAny(low, backRefWords) != "" || containsAny(low, fallbackWords) != "") {
		// "… uses the same ports to these servers", "if UDP is blocked,
		// …": the hosts of the nearest sentence before it that names some
		hosts = prevHosts(all, a)
		if len(hosts) > 0 {
			hostNote = "the line refers back: read as the hosts of the sentence before it"
		}
	}
	if len(hosts) == 0 && (lead || b >= len(u.Text)) {
		if hs := x.leadHosts(ui); len(hs) > 0 {
			hosts = hs
			hostNote = "the hosts are the list the line introduces"
		}
	}
	if len(hosts) == 0 && containsAny(low, lanWords) != "" {
		hosts = []string{"lan"}
		hostNote = "the line says the traffic stays in the site's own networks: remote lan"
	}
	if len(hosts) == 0 && len(x.pool.hosts) > 0 {
		hosts = append(hosts, x.pool.hosts...)
		x.pool.used = true
		hostNote = fmt.Sprintf("the line names no host; read as the hosts listed above it in the section %q", clip(x.pool.title, 60))
	}
	noHost := len(hosts) == 0
	if noHost {
		hosts = []string{"any"}
		hostNote = "the line names no host: any address; narrow it if the vendor publishes one"
	}
	first := len(x.flows)
	dirs := []model.Direction{x.direction(u, a, low)}
	if containsAny(low, bothWays) != "" || x.cellSays(u, colDir, bothWords) {
		dirs = []model.Direction{model.Outbound, model.Inbound}
	}
	need := x.necessity(u, low)
	purpose := x.purpose(u, toks, text)
	oneOf := containsAny(low, oneOfWords) != ""
	cond := ""
	if need == model.Optional && containsAny(low, conditionWords) != "" {
		cond = clip(strings.TrimSpace(text), 200)
	}
	// group ports by their protocol token
	var groups []*group
	byFrom := map[string]*group{}
	for _, p := range ports {
		key := fmt.Sprintf("%d/%s", p.from, strings.Join(p.protos, "+"))
		g := byFrom[key]
		if g == nil {
			g = &group{protos: p.protos}
			byFrom[key] = g
			groups = append(groups, g)
		}
		g.ports = append(g.ports, p)
	}
	own := x.pairHosts(u, toks, groupStarts(groups))
	for gi, g := range groups {
		var prs []string
		var notes []string
		anchor := toks[g.ports[0].idx]
		ghosts := hosts
		if own != nil {
			ghosts = own[gi]
		}
		app := x.app(toks, g.ports)
		gnote := hostNote
		if len(ghosts) == 1 && ghosts[0] == "any" && noHost {
			// "SIP: UDP 5060" where the document names one sip.… host
			if hs := x.appHosts[appLabel(app)]; len(hs) == 1 {
				ghosts = hs
				gnote = fmt.Sprintf("the line names no host; read as %s, the document's only %s host", hs[0], appLabel(app))
			}
		}
		for _, p := range g.ports {
			t := toks[p.idx]
			prs = appendNew(prs, rangeString(t.lo, t.hi))
			if p.weak {
				notes = appendNew(notes, fmt.Sprintf("%s read as a port from the words around it", t.word))
			}
			if p.how != "" {
				notes = appendNew(notes, p.how)
			}
		}
		if gnote != "" {
			notes = append(notes, gnote)
		}
		line, quote := x.quote(u, a, b, anchor.off)
		for _, dir := range dirs {
			for _, proto := range g.protos {
				x.flows = append(x.flows, &draftFlow{
					dir: dir, proto: proto, ports: prs, srcPorts: src, hosts: ghosts, necessity: need, app: app,
					purpose: purpose, quote: quote, line: line, oneOf: oneOf && len(prs) > 1, notes: notes, unit: ui, condition: cond,
				})
			}
		}
	}
	if containsAny(low, fallbackWords) != "" {
		x.linkFallback(ui, first)
	}
}

// appLabel is the first label of the host names that serve an app:
// sip.vendor.example serves SIP.
func appLabel(app string) string {
	switch app {
	case "sip", "sip-tls":
		return "sip"
	case "stun", "turn", "ntp", "xmpp", "mqtt", "ldap":
		return app
	}
	return "\x00" // no label: no host name starts with it
}

// group is the ports of a statement that share one protocol token.
type group struct {
	protos []string
	ports  []portTok
}

// groupStarts returns the token index where each group starts: its
// protocol token or its first port, whichever comes first.
func groupStarts(gs []*group) []int {
	out := make([]int, len(gs))
	for i, g := range gs {
		out[i] = g.ports[0].idx
		if f := g.ports[0].from; f >= 0 && f < out[i] {
			out[i] = f
		}
	}
	return out
}

// pairHosts reads prose that pairs ports with hosts ("UDP 5060 to
// sip.example and TCP 443 to prov.example", "a.example on TCP 443 and
// b.example on UDP 3478"): each group takes the hosts between its start
// and the next group's, or, when hosts come first, those between the
// group before and its start. It returns nil when the statement does not pair them
// (a row, one group, or a group left without hosts).
func (x *extractor) pairHosts(u *Unit, toks []token, starts []int) [][]string {
	if u.Kind == Row || len(starts) < 2 {
		return nil
	}
	hostsIn := func(lo, hi int) []string {
		var hs []string
		for k := max(lo, 0); k < hi && k < len(toks); k++ {
			if toks[k].kind == tHost {
				hs = appendNew(hs, toks[k].entries...)
			}
		}
		return hs
	}
	out := make([][]string, len(starts))
	distinct := map[string]bool{}
	// hosts before the first group: each group's hosts stand before it
	before := len(hostsIn(0, starts[0])) > 0
	for i, st := range starts {
		var hs []string
		if before {
			prev := 0
			if i > 0 {
				prev = starts[i-1] + 1
			}
			hs = hostsIn(prev, st)
		} else {
			end := len(toks)
			if i+1 < len(starts) {
				end = starts[i+1]
			}
			hs = hostsIn(st, end)
		}
		if len(hs) == 0 {
			return nil
		}
		out[i] = hs
		distinct[strings.Join(hs, ",")] = true
	}
	if len(distinct) < 2 {
		return nil
	}
	return out
}

// linkFallback reads a statement that says what happens when UDP fails
// ("If UDP is blocked, clients fall back to TCP 443"): its TCP flows are
// the fallback of its UDP flows, or of the UDP flows of the few units
// before it.
func (x *extractor) linkFallback(ui, first int) {
	var targets, sources []*draftFlow
	for _, f := range x.flows[first:] {
		if f.proto == model.TCP {
			targets = append(targets, f)
		} else {
			sources = append(sources, f)
		}
	}
	if len(targets) == 0 {
		return
	}
	if len(sources) == 0 {
		for k := first - 1; k >= 0 && x.flows[k].unit >= ui-4; k-- {
			if f := x.flows[k]; f.proto == model.UDP && f.dir == targets[0].dir {
				sources = append(sources, f)
			}
		}
	}
	for _, s := range sources {
		for _, t := range targets {
			if !slices.Contains(s.fallback, t) {
				s.fallback = append(s.fallback, t)
			}
		}
	}
}

// prevHosts returns the hosts of the nearest sentence before offset a
// that names some.
func prevHosts(all []token, a int) []string {
	var hs []string
	for k := len(all) - 1; k >= 0; k-- {
		t := all[k]
		if t.off >= a {
			continue
		}
		if t.kind == tSep && len(hs) > 0 && t.word != ";" {
			break
		}
		if t.kind == tHost {
			hs = appendNew(hs, t.entries...)
		}
	}
	return hs
}

// unitHosts returns the hosts of a whole unit, read once per unit.
func (x *extractor) unitHosts(u *Unit, all []token) []string {
	if x.hostsOf != nil && x.hostsOfUnit == u {
		return x.hostsOf
	}
	var hs []string
	for _, t := range all {
		if t.kind == tHost {
			hs = appendNew(hs, t.entries...)
		}
	}
	x.hostsOf, x.hostsOfUnit = hs, u
	return hs
}

// leadHosts takes the host lines that follow a lead line ("… must be
// reachable:") and marks them consumed.
func (x *extractor) leadHosts(ui int) []string {
	var hosts []string
	table := -1
	for j := ui + 1; j < len(x.doc.Units) && len(hosts) < maxPool; j++ {
		v := &x.doc.Units[j]
		if v.Kind == Heading || v.Kind == Para && j > ui+1 && table < 0 && len(hosts) > 0 && !x.hostOnly(v, lex(v.Text, x.frLike)) {
			break
		}
		toks := lex(v.Text, x.frLike)
		if v.Kind == Row {
			// a table of hosts and what they are for
			if table >= 0 && v.Table != table || table < 0 && len(hosts) > 0 {
				break
			}
			table = v.Table
			if !hostsNoPorts(toks) {
				if v.Header || len(hosts) == 0 && !hasKind(toks, tHost) && !hasKind(toks, tNum) {
					continue // the table's header
				}
				break
			}
		} else if table >= 0 {
			break
		} else if !x.hostOnly(v, toks) && !(v.Kind == Item && hostsNoPorts(toks)) {
			break
		}
		for _, t := range toks {
			if t.kind == tHost {
				hosts = appendNew(hosts, t.entries...)
				x.noteTemplate(v, t)
			}
		}
		x.consumed[j] = true
	}
	return hosts
}

// hostsNoPorts says whether tokens name hosts and no port or protocol.
func hostsNoPorts(toks []token) bool {
	return hasKind(toks, tHost) && !hasKind(toks, tNum) && !hasKind(toks, tProto)
}

func hasKind(toks []token, k tokKind) bool {
	for _, t := range toks {
		if t.kind == k {
			return true
		}
	}
	return false
}

// noteTemplate records the param of a templated name.
func (x *extractor) noteTemplate(u *Unit, t token) {
	if t.template == "" {
		return
	}
	if _, ok := x.params[t.template]; ok {
		return
	}
	line, quote := x.quote(u, t.off, t.end, t.off)
	x.params[t.template] = paramInfo{placeholder: u.Text[t.off:t.end], line: line, quote: quote}
}

func (x *extractor) unreadLine(u *Unit, a, b int, toks []token) {
	off := a
	for _, t := range toks {
		if t.kind == tProto || t.kind == tHost || t.kind == tNum {
			off = t.off
			break
		}
	}
	line := u.LineAt(off)
	if _, ok := x.unread[line]; !ok {
		x.unread[line] = clip(strings.TrimSpace(u.Text[a:b]), 120)
	}
}

// Unread returns the lines that mention ports, protocols or hosts and
// gave nothing, in order.
func (x *extractor) Unread() []Unread {
	var out []Unread
	for l, t := range x.unread {
		out = append(out, Unread{Line: l, Text: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

func rangeString(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

func appendNew(xs []string, ys ...string) []string {
	for _, y := range ys {
		if !contains(xs, y) {
			xs = append(xs, y)
		}
	}
	return xs
}

// clip shortens s to n runes at a word boundary.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	if i := strings.LastIndexByte(string(r), ' '); i > n/2 {
		return string(r)[:i] + "…"
	}
	return string(r) + "…"
}
