package extract

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go4.org/netipx"

	"github.com/portolan/portolan/internal/lazyre"
	"github.com/portolan/portolan/model"
)

// tokKind is the kind of a token.
type tokKind int

const (
	tWord    tokKind = iota // any other word
	tHost                   // a host entry (or several: an address range)
	tProto                  // tcp, udp or both
	tNum                    // a number or a range of numbers
	tOther                  // a number that is no port: dotted, attached to letters
	tPunct                  // punctuation
	tSep                    // the end of a clause: ; . 。
	tCellSep                // the boundary of two table cells
)

// token is one token of a unit's text; Off and End are byte offsets.
type token struct {
	kind     tokKind
	off, end int
	word     string   // lower-cased word or punctuation
	protos   []string // tProto
	lo, hi   int      // tNum
	entries  []string // tHost
	template string   // tHost: the placeholder of a templated name
}

var (
	ipv4Pat = `(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}`
	ipv4RE  = lazyre.New(`\b` + ipv4Pat + `(?:/\d{1,2}\b|\s*[-–]\s*` + ipv4Pat + `\b|-\d{1,3}\b)?`)
	ipv6RE  = lazyre.New(`(?i)(?:^|[^\w:.])((?:[0-9a-f]{1,4}:){1,7}(?:[0-9a-f]{1,4}|:)(?:[0-9a-f]{1,4})?(?::[0-9a-f]{1,4}){0,6}(?:/\d{1,3})?)`)
	hostRE  = lazyre.New(`(?i)(?:\*\.|` + hostPlaceholderRE + `\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,22}[a-z]`)
	placeRE = lazyre.New(`^` + hostPlaceholderRE)
	tcpIPRE = lazyre.New(`(?i)^tcp[-/]ip`)
)

// findHosts returns the host tokens of s, in order: addresses, ranges,
// CIDRs, names, wildcards and templated names. URLs' hosts and e-mail
// addresses are skipped: they are references, not destinations.
func findHosts(s string) []token {
	var out []token
	taken := make([]bool, len(s)+1)
	mark := func(a, b int) {
		for i := a; i < b; i++ {
			taken[i] = true
		}
	}
	free := func(a, b int) bool {
		for i := a; i < b; i++ {
			if taken[i] {
				return false
			}
		}
		return true
	}
	for _, m := range ipv4RE.FindAllStringIndex(s, -1) {
		if m[0] > 0 && (s[m[0]-1] == '.' || isDigit(s[m[0]-1])) || m[1] < len(s) && (isDigit(s[m[1]]) || s[m[1]] == '.' && m[1]+1 < len(s) && isDigit(s[m[1]+1])) {
			continue // part of a longer dotted number (a phone number, a version)
		}
		raw := s[m[0]:m[1]]
		if entries := parseAddrToken(raw); len(entries) > 0 {
			out = append(out, token{kind: tHost, off: m[0], end: m[1], entries: entries})
			mark(m[0], m[1])
		}
	}
	for _, m := range ipv6RE.FindAllStringSubmatchIndex(s, -1) {
		a, b := m[2], m[3]
		raw := s[a:b]
		if strings.Count(raw, ":") < 2 || !free(a, b) {
			continue
		}
		if entries := parseAddrToken(raw); len(entries) > 0 {
			out = append(out, token{kind: tHost, off: a, end: b, entries: entries})
			mark(a, b)
		}
	}
	for _, m := range hostRE.FindAllStringIndex(s, -1) {
		a, b := m[0], m[1]
		if !free(a, b) {
			continue
		}
		if a > 0 && (s[a-1] == '@' || s[a-1] == '.' || s[a-1] == '-' || s[a-1] == '_' || isAlnum(s[a-1])) {
			continue
		}
		if b < len(s) && (s[b] == '@' || s[b] == '_' || isAlnum(s[b])) {
			continue
		}
		if strings.HasSuffix(s[:a], "://") || strings.HasSuffix(s[:a], "//") {
			continue
		}
		raw := s[a:b]
		tld := raw[strings.LastIndexByte(raw, '.')+1:]
		if fileExts[strings.ToLower(tld)] || strings.ToLower(tld) != tld || shortLabels(raw) {
			continue
		}
		name := strings.ToLower(raw)
		tok := token{kind: tHost, off: a, end: b}
		if pm := placeRE.FindString(raw); pm != "" {
			label := strings.ToLower(strings.Trim(pm, "[]'<>{}%"))
			param := strings.Trim(strings.ReplaceAll(strings.ReplaceAll(label, "-", "_"), ".", "_"), "_")
			if !model.ValidParamName(param) {
				continue
			}
			tok.template = param
			name = "{" + param + "}" + name[len(pm):]
		}
		if _, err := model.ParseEntry(name); err != nil {
			continue
		}
		tok.entries = []string{name}
		out = append(out, tok)
		mark(a, b)
	}
	sortTokens(out)
	return out
}

// parseAddrToken reads an address, CIDR or range ("a - b", "a.b.c.d-e") as
// host entries; a range becomes the CIDRs that cover it exactly.
func parseAddrToken(raw string) []string {
	raw = strings.TrimSpace(raw)
	if strings.Contains(raw, "/") {
		p, err := netip.ParsePrefix(raw)
		if err != nil {
			return nil
		}
		p = p.Masked()
		if _, err := model.ParseEntry(p.String()); err != nil {
			return nil
		}
		return []string{p.String()}
	}
	if i := strings.IndexAny(raw, "-–"); i > 0 {
		lo, err := netip.ParseAddr(strings.TrimSpace(raw[:i]))
		if err != nil {
			return nil
		}
		hiS := strings.TrimSpace(strings.TrimLeft(raw[i:], "-–"))
		if !strings.Contains(hiS, ".") && lo.Is4() {
			b := lo.As4()
			n, err := strconv.Atoi(hiS)
			if err != nil || n > 255 {
				return nil
			}
			b[3] = byte(n)
			hiS = netip.AddrFrom4(b).String()
		}
		hi, err := netip.ParseAddr(hiS)
		if err != nil || hi.Less(lo) || hi.BitLen() != lo.BitLen() {
			return nil
		}
		var out []string
		for _, p := range netipx.IPRangeFrom(lo, hi).Prefixes() {
			if p.Bits() == p.Addr().BitLen() {
				out = append(out, p.Addr().String())
			} else {
				out = append(out, p.String())
			}
			if len(out) > 64 {
				return nil // not a range a vendor writes
			}
		}
		return out
	}
	a, err := model.ParseAddr(raw)
	if err != nil {
		return nil
	}
	return []string{a.String()}
}

// shortLabels says whether every label of a name is one or two letters
// ("p.ex", "u.a"): an abbreviation, not a host.
func shortLabels(name string) bool {
	for _, l := range strings.Split(strings.TrimPrefix(name, "*."), ".") {
		if len(l) > 2 {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func sortTokens(ts []token) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].off < ts[j-1].off; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// lex splits s into tokens. frLike says a space may group thousands
// ("10 000").
func lex(s string, frLike bool) []token {
	hosts := findHosts(s)
	var out []token
	hi := 0
	i := 0
	for i < len(s) {
		if hi < len(hosts) && i == hosts[hi].off {
			out = append(out, hosts[hi])
			i = hosts[hi].end
			hi++
			continue
		}
		next := len(s)
		if hi < len(hosts) {
			next = hosts[hi].off
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0' || r == '\u3000':
			i += size
		case s[i] == '|' && strings.HasPrefix(s[i:], "| ") && i > 0 && s[i-1] == ' ':
			out = append(out, token{kind: tCellSep, off: i, end: i + 1, word: "|"})
			i++
		case isDigit(s[i]):
			t := lexNumber(s[:next], i, frLike)
			out = append(out, t)
			i = t.end
		case unicode.IsLetter(r) || r == '(' && strings.HasPrefix(strings.ToLower(s[i:]), "(s)"):
			j := i
			if r == '(' {
				j += 3
			}
			for j < next {
				r2, sz := utf8.DecodeRuneInString(s[j:])
				if unicode.IsLetter(r2) || unicode.IsDigit(r2) || r2 == '\'' || r2 == '’' ||
					(r2 == '-' || r2 == '.') && j+1 < next && isWordByte(s[j+1]) && !(r2 == '.' && j+1 < len(s) && s[j+1] == ' ') {
					if isCJK(r2) != isCJK(r) && j > i {
						break // 5060番ポート: CJK runs are words of their own
					}
					j += sz
					continue
				}
				break
			}
			w := s[i:j]
			out = append(out, wordToken(w, i, j)...)
			i = j
		default:
			kind := tPunct
			w := s[i : i+size]
			switch w {
			case ";", "。", "；", "!", "?":
				kind = tSep
			case ".":
				if i+1 >= len(s) || s[i+1] == ' ' {
					kind = tSep
				}
			}
			out = append(out, token{kind: kind, off: i, end: i + size, word: w})
			i += size
		}
	}
	return mergeProtos(s, out)
}

func isWordByte(c byte) bool { return isAlnum(c) || c >= 0x80 }

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) || r == 'ー'
}

// wordToken classifies a word: a protocol, or a plain word. Words that
// carry digits inside ("v11", "TLSv1.2", "H.323") keep them from reading
// as ports.
func wordToken(w string, off, end int) []token {
	lw := strings.ToLower(w)
	if m := tcpIPRE.FindString(lw); m != "" && len(m) == len(lw) {
		return []token{{kind: tProto, off: off, end: end, word: lw, protos: []string{"tcp"}}}
	}
	switch lw {
	case "tcp", "udp":
		return []token{{kind: tProto, off: off, end: end, word: lw, protos: []string{lw}}}
	}
	// "TCP-Port", "UDP-Portbereich", "UDP-Medienport": a protocol glued to
	// a word.
	for _, p := range []string{"tcp", "udp"} {
		if strings.HasPrefix(lw, p+"-") && len(lw) > 4 {
			return []token{
				{kind: tProto, off: off, end: off + 3, word: p, protos: []string{p}},
				{kind: tWord, off: off + 4, end: end, word: lw[4:]},
			}
		}
	}
	return []token{{kind: tWord, off: off, end: end, word: lw}}
}

// lexNumber reads a number at s[i:]: digits, thousands groups (10.000,
// 10,000, 10 000), a range to a second number in any of the notations
// vendors use, or a dotted number that is no port (1.2, 1.800.849.5507).
func lexNumber(s string, i int, frLike bool) token {
	a, j, ok := readNum(s, i, frLike)
	if !ok {
		// dotted or glued: skip the whole run
		k := i
		for k < len(s) && (isDigit(s[k]) || (s[k] == '.' || s[k] == ',') && k+1 < len(s) && isDigit(s[k+1])) {
			k++
		}
		return token{kind: tOther, off: i, end: k, word: s[i:k]}
	}
	t := token{kind: tNum, off: i, end: j, lo: a, hi: a, word: s[i:j]}
	if i > 0 {
		if r, _ := utf8.DecodeLastRuneInString(s[:i]); unicode.IsLetter(r) && !isCJK(r) && r < 0x250 {
			t.kind = tOther
			return t
		}
	}
	if j < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[j:]); unicode.IsLetter(r) && !isCJK(r) && r < 0x250 {
			t.kind = tOther
			return t
		}
	}
	// A range: "10000-20000", "10.000 bis 20.000", "10000～20000"…
	k, ok := rangeConnector(s, j)
	if !ok && betweenBefore(s[:i]) {
		k, ok = andConnector(s, j) // "between 4000 and 4999", "tra 4000 e 4999"
	}
	if ok {
		if b, e, ok := readNum(s, k, frLike); ok && b > a {
			if e >= len(s) || !(isAlnum(s[e]) && !isDigit(s[e])) {
				t.hi, t.end, t.word = b, e, s[i:e]
			}
		}
	}
	return t
}

// readNum reads digits with optional thousands groups; ok is false for a
// dotted number that is not a thousands group (versions, phone numbers).
func readNum(s string, i int, frLike bool) (int, int, bool) {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i {
		return 0, i, false
	}
	digits := s[i:j]
	// thousands: one or two digits, a separator, exactly three digits
	if j-i <= 2 && j+4 <= len(s) {
		sep, sz := utf8.DecodeRuneInString(s[j:])
		okSep := sep == '.' || sep == ',' || sep == '\u00a0' || sep == '\u202f' || sep == '\u2009' || sep == '\'' || sep == ' ' && frLike
		if okSep && j+sz+3 <= len(s) && allDigits(s[j+sz:j+sz+3]) && (j+sz+3 == len(s) || !isDigit(s[j+sz+3])) &&
			!(j+sz+4 < len(s) && (s[j+sz+3] == '.' || s[j+sz+3] == ',') && isDigit(s[j+sz+4])) {
			n, _ := strconv.Atoi(digits + s[j+sz:j+sz+3])
			if n <= 65535 && (sep != ' ' || n >= 1000) {
				return n, j + sz + 3, true
			}
		}
	}
	if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
		return 0, j, false
	}
	if len(digits) > 6 {
		return 0, j, false
	}
	n, _ := strconv.Atoi(digits)
	return n, j, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

var rangeWords = []string{"through", "thru", "bis", "to", "a", "à", "al", "até", "ate", "ile", "fino a", "fino al", "au", "hasta", "から", "～"}

// rangeConnector returns where the second number of a range starts after
// s[:j], if a range connector follows.
func rangeConnector(s string, j int) (int, bool) {
	k := j
	for k < len(s) && (s[k] == ' ' || s[k] == '\u00a0') {
		k++
	}
	spaced := k > j
	if strings.HasPrefix(s[k:], "番") { // 10000番から20000番
		k += len("番")
		for k < len(s) && s[k] == ' ' {
			k++
		}
	}
	if strings.HasPrefix(s[k:], "から") {
		e := k + len("から")
		for e < len(s) && s[e] == ' ' {
			e++
		}
		if e < len(s) && isDigit(s[e]) {
			return e, true
		}
	}
	for _, c := range []string{"-", "–", "—", "−", "－", "～", "〜", "~", "..", "…"} {
		if strings.HasPrefix(s[k:], c) {
			k += len(c)
			for k < len(s) && (s[k] == ' ' || s[k] == '\u00a0') {
				k++
			}
			return k, k < len(s) && isDigit(s[k])
		}
	}
	if !spaced && strings.HasPrefix(s[k:], ":") && k+1 < len(s) && isDigit(s[k+1]) {
		return k + 1, true
	}
	if !spaced {
		return j, false
	}
	low := strings.ToLower(s[k:min(len(s), k+12)])
	for _, w := range rangeWords {
		if strings.HasPrefix(low, w) {
			e := k + len(w)
			if e < len(s) && s[e] != ' ' && !strings.HasSuffix(w, "～") && w != "から" {
				continue
			}
			for e < len(s) && (s[e] == ' ' || s[e] == '\u00a0') {
				e++
			}
			return e, e < len(s) && isDigit(s[e])
		}
	}
	return j, false
}

var (
	betweenRE = lazyre.New(`(?i)(?:^|[^\pL])(?:between|zwischen|entre|tra|fra|compres[ae] tra|arasında)\s+$`)
	andRE     = lazyre.New(`(?i)^\s+(?:and|und|e|y|et|ile|ve)\s+`)
)

// betweenBefore says whether the text before a number ends with
// "between" in one of the languages.
func betweenBefore(s string) bool {
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	return betweenRE.MatchString(s)
}

// andConnector returns where the second number of "between A and B"
// starts.
func andConnector(s string, j int) (int, bool) {
	m := andRE.FindStringIndex(s[j:min(len(s), j+16)])
	if m == nil {
		return j, false
	}
	k := j + m[1]
	return k, k < len(s) && isDigit(s[k])
}

// mergeProtos joins "TCP/UDP", "UDP und TCP", "TCP+UDP" into one protocol
// token with both.
func mergeProtos(s string, ts []token) []token {
	var out []token
	for _, t := range ts {
		if t.kind == tProto {
			k := len(out) - 1
			for k >= 0 && isJoiner(out[k]) {
				k--
			}
			if k >= 0 && out[k].kind == tProto {
				p := &out[k]
				for _, x := range t.protos {
					if !contains(p.protos, x) {
						p.protos = append(p.protos, x)
					}
				}
				p.end = t.end
				out = out[:k+1]
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

// isJoiner says whether a token joins items of a list.
func isJoiner(t token) bool {
	switch t.kind {
	case tPunct:
		switch t.word {
		case "/", "+", "&", "・", "、", ",", "，":
			return true
		}
	case tWord:
		return conjWords[t.word]
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
