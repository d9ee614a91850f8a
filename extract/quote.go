package extract

import (
	"strings"
	"unicode/utf8"
)

// maxQuote is the longest quote the extractor writes, in runes.
const maxQuote = 300

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
	if len(raw) > MaxLineLen {
		raw = raw[:MaxLineLen]
	}
	rawF := fold(raw)
	var cands []string
	// the statement's pieces on this line, joined
	var parts []string
	for _, s := range u.Spans {
		if s.Line == line && s.End > a && s.Off < b {
			parts = append(parts, u.Text[max(s.Off, a):min(s.End, b)])
		}
	}
	cands = append(cands, strings.Join(parts, " "))
	if u.Kind == Row && !strings.Contains(raw, "<") {
		cands = append(cands, raw)
	}
	lo, hi := max(sp.Off, a), min(sp.End, b)
	if lo < hi {
		cands = append(cands, u.Text[lo:hi])
	}
	cands = append(cands, u.Text[sp.Off:sp.End])
	for _, c := range cands {
		c = strings.TrimSpace(c)
		if c == "" || utf8.RuneCountInString(c) > maxQuote {
			continue
		}
		if strings.Contains(rawF, fold(c)) {
			return line, fold(c)
		}
	}
	// the longest run of the span's words that stands on the line
	words := strings.Fields(u.Text[sp.Off:sp.End])
	best := ""
	for i := range words {
		for j := len(words); j > i; j-- {
			c := strings.Join(words[i:j], " ")
			if len(c) <= len(best) || utf8.RuneCountInString(c) > maxQuote {
				continue
			}
			if strings.Contains(rawF, c) {
				best = c
				break
			}
		}
		if len(words) > 60 {
			break // long spans: the first run found will do
		}
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
