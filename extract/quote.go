package extract

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// maxQuote is the longest quote the extractor writes, in runes.
const maxQuote = 300

// maxQuoteLine bounds how much of a source line quotes are looked for in:
// a minified HTML page is one long line.
const maxQuoteLine = 256 << 10

// quote picks the words a statement is traced to: the most of the
// statement that stands on the source line of the text at off, as
// `portolan validate --documents` checks it (white space folded).
func (x *extractor) quote(u *Unit, a, b, off int) (int, string) {
	sp, ok := u.span(off)
	if !ok {
		if len(u.Spans) == 0 {
			return 0, ""
		}
		sp = u.Spans[0]
	}
	line := sp.Line
	raw := ""
	if line >= 1 && line <= len(x.doc.Lines) {
		raw = x.doc.Lines[line-1]
	}
	if len(raw) > maxQuoteLine {
		raw = raw[:maxQuoteLine]
	}
	rawF, ok := x.folded[line] // one line, at most maxQuoteLine bytes, folded once
	if !ok {
		rawF = fold(raw)
		if x.folded == nil {
			x.folded = map[int]string{}
		}
		x.folded[line] = rawF
	}
	var cands []string
	// the statement's pieces on this line, joined
	const long = 4 * maxQuote // bytes: longer candidates cannot be quotes
	var parts []string
	size := 0
	for _, s := range u.Spans {
		if s.Line == line && s.End > a && s.Off < b {
			lo, hi := max(s.Off, a), min(s.End, b)
			size += hi - lo
			if size > long {
				break
			}
			parts = append(parts, u.Text[lo:hi])
		}
	}
	if size <= long {
		cands = append(cands, strings.Join(parts, " "))
	}
	if u.Kind == Row && !strings.Contains(raw, "<") && len(raw) <= long {
		cands = append(cands, raw)
	}
	if u.Kind == Row {
		// an HTML row: its longest cell on this line that stands there
		var cells []string
		for i := range u.Cells {
			c := u.Cells[i]
			if sp, ok := u.span(c.Off); ok && sp.Line == line && c.End-c.Off <= long {
				cells = append(cells, u.Text[c.Off:c.End])
			}
		}
		sort.SliceStable(cells, func(i, j int) bool { return len(cells[i]) > len(cells[j]) })
		for _, c := range cells {
			if strings.Contains(rawF, fold(c)) && strings.TrimSpace(c) != "" {
				cands = append(cands, c)
				break
			}
		}
	}
	if lo, hi := max(sp.Off, a), min(sp.End, b); lo < hi && hi-lo <= long {
		cands = append(cands, u.Text[lo:hi])
	}
	if sp.End-sp.Off <= long {
		cands = append(cands, u.Text[sp.Off:sp.End])
	}
	for _, c := range cands {
		c = strings.TrimSpace(c)
		if c == "" || utf8.RuneCountInString(c) > maxQuote {
			continue
		}
		if strings.Contains(rawF, fold(c)) {
			return line, fold(c)
		}
	}
	// the longest run of words around off that stands on the line
	wlo, whi := max(sp.Off, off-150), min(sp.End, off+150)
	for wlo > sp.Off && !utf8.RuneStart(u.Text[wlo]) {
		wlo--
	}
	for whi < sp.End && !utf8.RuneStart(u.Text[whi]) {
		whi++
	}
	// grow a run from the word at off, left then right, while it stands
	words := strings.Fields(u.Text[wlo:whi])
	at := len(strings.Fields(u.Text[wlo:max(wlo, off)]))
	if at >= len(words) {
		at = len(words) - 1
	}
	best := ""
	if at >= 0 && strings.Contains(rawF, words[at]) {
		lo, hi := at, at+1
		for lo > 0 && strings.Contains(rawF, strings.Join(words[lo-1:hi], " ")) {
			lo--
		}
		for hi < len(words) && strings.Contains(rawF, strings.Join(words[lo:hi+1], " ")) {
			hi++
		}
		best = strings.Join(words[lo:hi], " ")
	}
	if best != "" {
		return line, best
	}
	r := []rune(strings.TrimSpace(rawF))
	if len(r) > maxQuote {
		r = r[:maxQuote]
		// cut at a space so that the quote is whole words of the line
		s := string(r)
		if i := strings.LastIndexByte(s, ' '); i > 0 {
			s = s[:i]
		}
		return line, s
	}
	return line, string(r)
}

// fold turns every run of white space into one space, as quotes are
// compared.
func fold(s string) string { return strings.Join(strings.Fields(s), " ") }
