package extract

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/portolan/portolan/model"
)

// column roles of a table, from its header row.
type colRole int

const (
	colOther colRole = iota
	colPort
	colSrcPort
	colProto
	colHost
	colPurpose
	colNeed
	colDir
)

var headerWords = []struct {
	role  colRole
	words []string
}{
	{colSrcPort, []string{"src port", "source port", "quellport", "porta de origem", "puerto de origen", "port source", "porta sorgente", "kaynak port", "送信元ポート"}},
	{colPort, []string{"port", "porta", "puerto", "ポート", "bağlantı noktası"}},
	{colProto, []string{"protocol", "protokoll", "protocolo", "protocole", "protocollo", "プロトコル", "protokol", "transport"}},
	{colHost, []string{"destination", "dest. host", "ziel", "destino", "hedef", "接続先", "宛先", "address", "adresse", "endereço", "dirección", "indirizzo", "adres", "host", "server", "fqdn", "domain", "domäne", "domínio", "dominio", "url", "ip addresses", "ip-adressen"}},
	{colNeed, []string{"required", "erforderlich", "obligatoire", "obrigatório", "obligatorio", "obbligatorio", "必須", "区分", "durum", "status", "mandatory", "necessity", "notwendig"}},
	{colDir, []string{"direction", "richtung", "direção", "dirección", "sens", "direzione", "方向", "yön"}},
	{colPurpose, []string{"description", "beschreibung", "descrição", "descripción", "descrizione", "açıklama", "用途", "purpose", "service", "serviço", "servicio", "servizio", "hizmet", "flux", "notes", "erklärung", "uso", "usage", "zweck", "funktion", "função", "función", "funzione", "説明", "内容", "comment"}},
}

// classifyHeader returns the role of each cell of a header row, and
// whether the row reads as a header at all.
func classifyHeader(u *Unit) ([]colRole, bool) {
	roles := make([]colRole, len(u.Cells))
	known := 0
	for i := range u.Cells {
		c := strings.ToLower(u.CellText(i))
		for _, hw := range headerWords {
			if containsAny(c, hw.words) != "" {
				roles[i] = hw.role
				known++
				break
			}
		}
		if roles[i] == colPort && containsAny(c, []string{"protocol", "protokoll", "protocolo"}) != "" {
			roles[i] = colOther // "Transport, Ports, Protocol": read freely
		}
	}
	for i := range u.Cells {
		if utf8.RuneCountInString(u.CellText(i)) > 60 {
			return roles, false
		}
	}
	for _, t := range lex(u.Text, false) {
		if t.kind == tProto || t.kind == tNum {
			return roles, false
		}
	}
	return roles, known >= 2
}

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

// context is what a heading or a lead line says for what follows it.
type context struct {
	level     int
	dir       model.Direction
	necessity model.Necessity
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

	folded       map[int]string // source lines, white space folded, for quote
	srcPorts     *[]string      // findPorts puts source ports here
	hostsOf      []string       // unitHosts' last answer
	lastRowHosts []string       // the hosts of the table's last row that named some
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

// setLeadContext replaces the context of the current section's lead line.
func (x *extractor) setLeadContext(c context) {
	level := 99
	if n := len(x.ctx); n > 0 && x.ctx[n-1].level == level {
		x.ctx = x.ctx[:n-1]
	}
	c.level = level
	x.ctx = append(x.ctx, c)
}

// cellSays says whether a row's cell of the given role holds one of the
// words.
func (x *extractor) cellSays(u *Unit, role colRole, words []string) bool {
	if u.Kind != Row {
		return false
	}
	for c, r := range x.roles {
		if r == role && c < len(u.Cells) && containsAny(strings.ToLower(u.CellText(c)), words) != "" {
			return true
		}
	}
	return false
}

// prose says whether a paragraph is prose, not a line of a list written
// without bullets: long, or ended as a sentence.
func prose(t string) bool {
	t = strings.TrimSpace(t)
	last, _ := utf8.DecodeLastRuneInString(t)
	return utf8.RuneCountInString(t) >= 100 || strings.ContainsRune(".。!?", last)
}

// isLead says whether a paragraph introduces what follows ("Ausgehende
// Ports:").
func (x *extractor) isLead(u *Unit) bool {
	t := strings.TrimSpace(u.Text)
	return strings.HasSuffix(t, ":") || strings.HasSuffix(t, "：")
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

// portTok is a number read as a port, with the token that gave it its
// protocol.
type portTok struct {
	idx    int
	weak   bool
	protos []string
	from   int // index of the protocol token, -1 when implied
	how    string
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
	ports := x.findPorts(u, toks)
	x.srcPorts = nil
	if len(ports) > 0 {
		mentions = true
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
	if len(hosts) == 0 && u.Kind != Row {
		hosts = appendNew(hosts, x.unitHosts(u, all)...)
		if len(hosts) > 0 {
			hostNote = "the hosts are named elsewhere in the same paragraph"
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
	if len(hosts) == 0 {
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
	type group struct {
		protos []string
		ports  []portTok
	}
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
	for _, g := range groups {
		var prs []string
		var notes []string
		anchor := toks[g.ports[0].idx]
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
		if hostNote != "" {
			notes = append(notes, hostNote)
		}
		app := x.app(toks, g.ports)
		line, quote := x.quote(u, a, b, anchor.off)
		for _, dir := range dirs {
			for _, proto := range g.protos {
				x.flows = append(x.flows, &draftFlow{
					dir: dir, proto: proto, ports: prs, srcPorts: src, hosts: hosts, necessity: need, app: app,
					purpose: purpose, quote: quote, line: line, oneOf: oneOf && len(prs) > 1, notes: notes, unit: ui, condition: cond,
				})
			}
		}
	}
	if containsAny(low, fallbackWords) != "" {
		x.linkFallback(ui, first)
	}
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

// findPorts decides which numbers of a statement are ports and which
// protocol each has.
func (x *extractor) findPorts(u *Unit, toks []token) []portTok {
	isPort := make([]bool, len(toks))
	weak := make([]bool, len(toks))
	for i, t := range toks {
		if t.kind != tNum || t.lo < 1 || t.hi > 65535 || x.notAPort(toks, i) {
			continue
		}
		switch {
		case x.inColumn(u, t.off, colPort):
			isPort[i] = x.firstInCell(u, toks, i, isPort)
		case x.inColumn(u, t.off, colSrcPort) || srcWordBefore(toks, i):
			if x.srcPorts != nil {
				*x.srcPorts = appendNew(*x.srcPorts, rangeString(t.lo, t.hi))
			}
		case portBefore(toks, i) || portAfter(toks, i):
			isPort[i] = true
		case listJoined(toks, i, isPort):
			isPort[i] = true
		case u.Kind == Row && x.roles == nil && cellIsNumber(u, toks, i) && rowHasProto(toks):
			isPort[i] = true
		case (t.hi > t.lo || t.lo >= 1024) && portNear(toks, i, 10):
			isPort[i], weak[i] = true, true
		}
	}
	var out []portTok
	for i := range toks {
		if !isPort[i] {
			continue
		}
		p := portTok{idx: i, weak: weak[i], from: -1}
		p.protos, p.from, p.how = x.protoFor(u, toks, i)
		if len(p.protos) == 0 {
			continue
		}
		out = append(out, p)
	}
	return out
}

// notAPort rules out durations, counts, footnotes and numbers after words
// such as "Table" or "version".
func (x *extractor) notAPort(toks []token, i int) bool {
	t := toks[i]
	if i+1 < len(toks) {
		n := toks[i+1]
		w := n.word
		if n.kind == tWord || n.kind == tPunct && w == "%" {
			for _, tw := range timeWords {
				if w == tw || n.kind == tWord && isCJK(firstRune(w)) && strings.HasPrefix(w, tw) && tw != "番" && !strings.HasPrefix(w, "番") {
					return true
				}
			}
		}
	}
	if i > 0 {
		p := toks[i-1]
		if p.kind == tWord && beforeNonPort[p.word] || p.kind == tPunct && (p.word == "#" || p.word == "§" || p.word == "+" && t.lo > 0 && t.hi == t.lo) {
			return true
		}
		if p.kind == tPunct && p.word == "." || p.kind == tNum {
			return true // after a dot, or a number with nothing between: a footnote mark
		}
	}
	return false
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// srcWordBefore: "source port 5060", "Quellport 5060", "porta de origem
// 5060" — a source port, not a destination.
func srcWordBefore(toks []token, i int) bool {
	for k := i - 1; k >= 0 && k >= i-4; k-- {
		t := toks[k]
		if t.kind == tWord && (t.word == "source" || t.word == "src" || t.word == "quellport" || t.word == "quellports" ||
			t.word == "origem" || t.word == "origen" || t.word == "sorgente" || t.word == "kaynak" || t.word == "送信元ポート" || t.word == "送信元") {
			return k+1 < len(toks) && (isPortWord(toks[k+1].word) || k+1 == i || strings.HasPrefix(t.word, "quell") || toks[k+1].kind == tPunct)
		}
		if t.kind == tNum || t.kind == tSep || t.kind == tCellSep {
			return false
		}
	}
	return false
}

// portBefore: a protocol or "port" stands just before the number, maybe
// with filler words ("UDP ports 8801", "Porte UDP da 10000", "HTTPS (443)").
func portBefore(toks []token, i int) bool {
	fill := 0
	for k := i - 1; k >= 0; k-- {
		t := toks[k]
		switch {
		case t.kind == tProto:
			return true
		case t.kind == tWord && isPortWord(t.word):
			return true
		case t.kind == tWord && appWords[t.word][0] != "" && k == i-2 && toks[k+1].word == "(":
			return true
		case t.kind == tPunct && strings.Contains(":/(-=：（,", t.word):
			continue
		case t.kind == tWord && fillerWords[t.word] && fill < 3:
			fill++
			continue
		}
		return false
	}
	return false
}

// portAfter: "443/tcp", "5060 UDP", "5060番ポート", "5222 portu".
func portAfter(toks []token, i int) bool {
	for k := i + 1; k < len(toks) && k <= i+3; k++ {
		t := toks[k]
		switch {
		case t.kind == tProto:
			return true
		case t.kind == tWord && isPortWord(t.word):
			return true
		case t.kind == tPunct && (t.word == "/" || t.word == ")" || t.word == "）" || t.word == "(" || t.word == "（"):
			continue
		case t.kind == tWord && fillerWords[t.word]:
			continue
		}
		return false
	}
	return false
}

// listJoined: the number continues a list of ports ("5223, 2197, and 443",
// "UDP 3478 and UDP 3479", "5060 ou 5061").
func listJoined(toks []token, i int, isPort []bool) bool {
	joined := false
	for k := i - 1; k >= 0; k-- {
		t := toks[k]
		switch {
		case t.kind == tNum:
			return isPort[k] && joined
		case isJoiner(t), t.kind == tProto, t.kind == tWord && isPortWord(t.word):
			joined = true
			continue
		case t.kind == tWord && fillerWords[t.word], t.kind == tPunct && (t.word == "(" || t.word == ")"):
			continue
		}
		return false
	}
	return false
}

// portNear: a protocol or "port" stands in the same clause within n tokens
// before the number.
func portNear(toks []token, i, n int) bool {
	for k := i - 1; k >= 0 && k >= i-n; k-- {
		t := toks[k]
		if t.kind == tSep {
			return false
		}
		if t.kind == tProto || t.kind == tWord && isPortWord(t.word) {
			return true
		}
	}
	return false
}

func (x *extractor) inColumn(u *Unit, off int, role colRole) bool {
	if u.Kind != Row || x.roles == nil {
		return false
	}
	c := u.CellAt(off)
	return c >= 0 && c < len(x.roles) && x.roles[c] == role
}

// firstInCell: in a port column, the first number of the cell and those
// joined to it are ports; a footnote mark after them is not.
func (x *extractor) firstInCell(u *Unit, toks []token, i int, isPort []bool) bool {
	c := u.CellAt(toks[i].off)
	for k := i - 1; k >= 0 && u.CellAt(toks[k].off) == c; k-- {
		if toks[k].kind == tNum {
			return listJoined(toks, i, isPort)
		}
	}
	return true
}

func cellIsNumber(u *Unit, toks []token, i int) bool {
	c := u.CellAt(toks[i].off)
	if c < 0 {
		return false
	}
	for _, t := range toks {
		if u.CellAt(t.off) == c && (t.kind == tWord || t.kind == tHost) {
			return false
		}
	}
	return true
}

func rowHasProto(toks []token) bool {
	for _, t := range toks {
		if t.kind == tProto {
			return true
		}
		if t.kind == tWord && appWords[t.word][1] != "" {
			return true
		}
	}
	return false
}

// protoFor finds a port's protocol: bound to it (443/tcp, TCP/5061), the
// nearest before it in its clause, the nearest after, the protocol an app
// named in the clause implies, or the port's usual one.
func (x *extractor) protoFor(u *Unit, toks []token, i int) ([]string, int, string) {
	// tight binding
	if i+2 < len(toks) && toks[i+1].word == "/" && toks[i+2].kind == tProto {
		return toks[i+2].protos, i + 2, ""
	}
	lo, hi := clause(toks, i)
	for k := i - 1; k >= lo; k-- {
		if toks[k].kind == tProto {
			return toks[k].protos, k, ""
		}
		if a := appWord(toks[k].word); a[1] != "" && k >= i-3 && toks[k].kind == tWord {
			return []string{a[1]}, -2 - k, ""
		}
	}
	for k := i + 1; k < hi; k++ {
		if toks[k].kind == tProto {
			return toks[k].protos, k, ""
		}
	}
	if u.Kind == Row {
		for k, t := range toks {
			if t.kind == tProto {
				return t.protos, k, ""
			}
		}
		for c, r := range x.roles {
			if r == colProto && containsAny(strings.ToLower(u.CellText(c)), bothWords) != "" {
				return []string{"tcp", "udp"}, -1, ""
			}
		}
	}
	t := toks[i]
	for k := max(lo, i-12); k < min(hi, i+12); k++ {
		if a := appWord(toks[k].word); a[1] != "" {
			return []string{a[1]}, -2 - k, ""
		}
	}
	if wk, ok := wellKnown[t.lo]; ok && t.lo == t.hi && wk[1] != "" {
		return []string{wk[1]}, -1, fmt.Sprintf("no protocol given for port %d: %s, as it usually carries %s", t.lo, strings.ToUpper(wk[1]), wk[0])
	}
	return nil, -1, ""
}

// appWord looks a word up among the apps, also as the start of a word
// ("SIP-TLSv1.2").
func appWord(w string) [2]string {
	if a, ok := appWords[w]; ok {
		return a
	}
	if strings.HasPrefix(w, "sip-tls") {
		return appWords["sip-tls"]
	}
	return [2]string{}
}

// clause returns the token range of the clause holding toks[i]: between
// separators (; . 。) and, in a row, within the table's cells.
func clause(toks []token, i int) (int, int) {
	lo, hi := i, i
	for lo > 0 && toks[lo-1].kind != tSep {
		lo--
	}
	for hi < len(toks) && toks[hi].kind != tSep {
		hi++
	}
	return lo, hi
}

// app names what the ports carry: the port's usual app, or an app word of
// the statement.
func (x *extractor) app(toks []token, ports []portTok) string {
	t := toks[ports[0].idx]
	lo, hi := clause(toks, ports[0].idx)
	// the app words near the port: a window of the clause
	lo, hi = max(lo, ports[0].idx-12), min(hi, ports[len(ports)-1].idx+12)
	for k := lo; k < hi; k++ {
		if a := appWord(toks[k].word); a[0] != "" && a[0] != "tls" {
			if a[0] == "sip" && (t.lo == 5061 || strings.Contains(strings.Join(wordsOf(toks[lo:hi]), " "), "tls")) {
				return "sip-tls"
			}
			return a[0]
		}
	}
	if wk, ok := wellKnown[t.lo]; ok && t.lo == t.hi {
		return wk[0]
	}
	if t.hi > t.lo && t.lo >= 1024 {
		return "media"
	}
	return "other"
}

func wordsOf(ts []token) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.word)
	}
	return out
}

// direction: the statement's own words, a direction column, the context
// of headings and lead lines, else outbound.
func (x *extractor) direction(u *Unit, a int, low string) model.Direction {
	if d := dirWords(low); d != "" {
		return d
	}
	if u.Kind != Row && a > 0 {
		// what the sentences before it in the paragraph say
		if d := dirWords(strings.ToLower(u.Text[max(0, a-2000):a])); d != "" {
			return d
		}
	}
	for k := len(x.ctx) - 1; k >= 0; k-- {
		if x.ctx[k].dir != "" {
			return x.ctx[k].dir
		}
	}
	return model.Outbound
}

func dirWords(low string) model.Direction {
	in := containsAny(low, inboundWords)
	if in != "" {
		stripped := low
		for _, w := range notInbound {
			stripped = strings.ReplaceAll(stripped, w, "")
		}
		in = containsAny(stripped, inboundWords)
	}
	out := containsAny(low, outboundWords)
	switch {
	case in != "" && out != "":
		// both: the one written first in a heading-like phrase wins less
		// often than the one about connections; take the earlier one.
		if strings.Index(low, in) < strings.Index(low, out) {
			return model.Inbound
		}
		if strings.Contains(low, "accessible from") || strings.Contains(low, "reachable from") || strings.Contains(low, "open from") {
			return model.Inbound
		}
		return model.Outbound
	case in != "":
		return model.Inbound
	case out != "":
		return model.Outbound
	}
	return ""
}

func (x *extractor) necessity(u *Unit, low string) model.Necessity {
	if n := needWords(low); n != "" {
		return n
	}
	if u.Kind == Row {
		for c, r := range x.roles {
			if r != colNeed {
				continue
			}
			switch v := strings.ToLower(strings.TrimSpace(u.CellText(c))); {
			case containsAny(" "+v+" ", noWords) != "":
				return model.Optional
			case containsAny(" "+v+" ", yesWords) != "":
				return model.Required
			}
		}
	}
	for k := len(x.ctx) - 1; k >= 0; k-- {
		if x.ctx[k].necessity != "" {
			return x.ctx[k].necessity
		}
	}
	return model.Required
}

func needWords(low string) model.Necessity {
	switch {
	case containsAny(low, optionalWords) != "":
		if strings.Contains(low, "not required") && containsAny(low, recommendedWords) != "" {
			return model.Recommended
		}
		return model.Optional
	case containsAny(low, recommendedWords) != "":
		return model.Recommended
	case containsAny(low, requiredWords) != "":
		return model.Required
	}
	return ""
}

// purpose is the purpose column of a row, or the row's words without its
// ports and hosts, or the sentence.
func (x *extractor) purpose(u *Unit, toks []token, text string) string {
	if u.Kind == Row {
		var parts []string
		for i := range u.Cells {
			if i < len(x.roles) && x.roles[i] == colPurpose {
				parts = append(parts, u.CellText(i))
			}
		}
		if len(parts) == 0 {
			for i := range u.Cells {
				c := u.CellText(i)
				if utf8.RuneCountInString(c) > 12 && !hasHostOrNumber(c) {
					parts = append(parts, c)
				}
			}
		}
		if len(parts) > 0 {
			return clip(strings.Join(parts, "; "), 200)
		}
	}
	return clip(strings.TrimSpace(text), 200)
}

func hasHostOrNumber(s string) bool {
	for _, t := range lex(s, false) {
		if t.kind == tHost || t.kind == tNum {
			return true
		}
	}
	return false
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
