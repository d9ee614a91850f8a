package extract

// Which numbers of a statement are ports, and their protocols.

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// portTok is a number read as a port, with the token that gave it its
// protocol.
type portTok struct {
	idx    int
	weak   bool
	protos []string
	from   int // index of the protocol token, -1 when implied
	how    string
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
			x.noProto = append(x.noProto, toks[i])
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
	// the app word nearest the port, before or after it
	best, dist := "", 1<<30
	for k := lo; k < hi; k++ {
		if a := appWord(toks[k].word); a[0] != "" && a[0] != "tls" {
			d := k - ports[0].idx
			if d < 0 {
				d = -d
			}
			if d < dist {
				best, dist = a[0], d
			}
		}
	}
	if best != "" {
		if best == "sip" && (t.lo == 5061 || strings.Contains(strings.Join(wordsOf(toks[lo:hi]), " "), "tls")) {
			return "sip-tls"
		}
		return best
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
