package extract

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/portolan/portolan/internal/lazyre"
)

// MaxLineLen bounds how much of one source line the readers look at: a
// longer line is cut (its quote still stands on it).
const MaxLineLen = 8 << 10

var (
	mdSepRE    = lazyre.New(`^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$`)
	itemRE     = lazyre.New(`^\s*(?:[-*+•◦▪●・–]|\d{1,2}[.)])\s*`)
	mdHeadRE   = lazyre.New(`^\s{0,3}(#{1,6})\s+`)
	inlineTag  = lazyre.New(`(?i)</?(?:sup|sub|br|b|i|em|strong|span|div|code|a|p|u|small|font|img|li|ul|ol|td|tr|th|table|kbd|mark|s|del|ins|pre|tt|h[1-6])\b[^<>]{0,200}>`)
	mdLinkRE   = lazyre.New(`\[([^\[\]]{0,300})\]\([^()\s]{0,500}\)`)
	multiSpace = lazyre.New(`\S(?: {2,}|\t)\S`)
)

// readText reads plain text and Markdown: '#' headings and short lines
// standing alone as headings, list items, tables from tabs or pipes
// (layout, for pdftotext output, also splits on runs of two or more
// spaces), and paragraphs of consecutive lines.
func readText(name string, data []byte, layout bool) *Document {
	src := strings.ToValidUTF8(string(data), "\uFFFD")
	lines := strings.Split(src, "\n")
	d := &Document{Name: name, Lines: lines}
	var para *builder
	table, inTable := 0, false
	flush := func() {
		if para != nil {
			u := para.unit()
			if strings.TrimSpace(u.Text) != "" {
				d.Units = append(d.Units, u)
			}
			para = nil
		}
	}
	clean := func(i int) string {
		l := strings.TrimRight(lines[i], "\r")
		if len(l) > MaxLineLen {
			l = l[:MaxLineLen]
		}
		return l
	}
	blank := func(i int) bool { return i < 0 || i >= len(lines) || strings.TrimSpace(clean(i)) == "" }
	for i := range lines {
		raw := clean(i)
		n := i + 1
		t := strings.TrimSpace(raw)
		if t == "" {
			flush()
			inTable = false
			continue
		}
		if mdSepRE.MatchString(t) && strings.Contains(t, "-") && (strings.Contains(t, "|") || strings.Count(t, "-") >= 3 && inTable) {
			// A Markdown table's header separator: the row before is a header.
			if k := len(d.Units) - 1; k >= 0 && d.Units[k].Kind == Row {
				d.Units[k].Header = true
			}
			continue
		}
		if cells := splitRow(raw, layout); len(cells) >= 2 {
			flush()
			if !inTable {
				table++
				inTable = true
			}
			b := &builder{u: Unit{Kind: Row, Table: table}}
			for j, c := range cells {
				if j > 0 {
					b.sep(" | ")
				}
				off := b.startCell()
				addInline(b, c, n)
				b.endCell(off)
			}
			d.Units = append(d.Units, b.unit())
			continue
		}
		inTable = false
		if m := mdHeadRE.FindStringSubmatch(raw); m != nil {
			flush()
			b := &builder{u: Unit{Kind: Heading, Level: len(m[1])}}
			addInline(b, strings.TrimRight(strings.TrimSpace(raw[len(m[0]):]), "# "), n)
			d.Units = append(d.Units, b.unit())
			continue
		}
		if loc := itemRE.FindStringIndex(raw); loc != nil && loc[1] < len(raw) && !numberedNumber(raw, loc) {
			flush()
			para = &builder{u: Unit{Kind: Item}}
			addInline(para, strings.TrimSpace(raw[loc[1]:]), n)
			continue
		}
		if para != nil && para.u.Kind == Item && (raw[0] == ' ' || raw[0] == '\t') {
			para.sep(" ")
			addInline(para, t, n)
			continue
		}
		if para == nil && blank(i-1) && blank(i+1) && looksHeading(t) {
			b := &builder{u: Unit{Kind: Heading, Level: 2}}
			if len(d.Units) == 0 {
				b.u.Level = 1
			}
			addInline(b, t, n)
			d.Units = append(d.Units, b.unit())
			continue
		}
		prev := ""
		if i > 0 {
			prev = strings.TrimSpace(clean(i - 1))
		}
		if isRecord(t) && !continues(prev) {
			// "host TCP 443 purpose" on a line of its own: a table row
			// written with single spaces, not prose to join.
			flush()
			para = &builder{u: Unit{Kind: Para}}
			addInline(para, t, n)
			flush()
			continue
		}
		if para == nil || para.u.Kind == Item || listLine(prev, t) {
			flush()
			para = &builder{u: Unit{Kind: Para}}
		} else {
			para.sep(" ")
		}
		addInline(para, t, n)
	}
	flush()
	for _, u := range d.Units {
		if (u.Kind == Heading || u.Kind == Para) && len(u.Spans) > 0 {
			d.Title = u.Text[:u.Spans[0].End] // its first line
			break
		}
	}
	return d
}

var protoDigitRE = lazyre.New(`(?i)\b(tcp|udp)\b.*\d`)

var recordRE = lazyre.New(`(?i)\b(tcp|udp)\b[\s:/,-]*\d`)

// isRecord says whether a line names a protocol with a port and a host:
// one requirement per line.
func isRecord(t string) bool {
	return recordRE.MatchString(t) && len(findHosts(t)) > 0
}

// continues says whether a line was cut mid-sentence by wrapping: long,
// and not ended by punctuation.
func continues(prev string) bool {
	if prev == "" || utf8.RuneCountInString(prev) < 60 {
		return false
	}
	last, _ := utf8.DecodeLastRuneInString(prev)
	return !strings.ContainsRune(".。!?:：;", last)
}

// listLine says whether line t starts a new item of a list written one
// item a line, without bullets ("Port 5060 (UDP/TCP) - SIP"): the line
// before is short, not cut by wrapping, and t starts with a capital or a
// digit.
func listLine(prev, t string) bool {
	if prev == "" || utf8.RuneCountInString(prev) >= 60 {
		return false
	}
	last, _ := utf8.DecodeLastRuneInString(prev)
	if strings.ContainsRune(",;-–(", last) {
		return false
	}
	first, _ := utf8.DecodeRuneInString(t)
	return unicode.IsUpper(first) || unicode.IsDigit(first)
}

// numberedNumber tells a number that starts a line ("10.000 bis 20.000")
// from a numbered item ("1. INTRODUCTION").
func numberedNumber(raw string, loc []int) bool {
	mark := strings.TrimSpace(raw[loc[0]:loc[1]])
	rest := raw[loc[1]:]
	return mark != "" && mark[0] >= '0' && mark[0] <= '9' && (len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' || loc[1] > 0 && raw[loc[1]-1] != ' ' && raw[loc[1]-1] != '\t')
}

// looksHeading says whether a line standing alone reads as a heading: short
// and not a sentence.
func looksHeading(t string) bool {
	if utf8.RuneCountInString(t) > 70 || protoDigitRE.MatchString(t) {
		return false // long, or a protocol with its port: a statement
	}
	last, _ := utf8.DecodeLastRuneInString(t)
	if strings.ContainsRune(".。!?:：;,", last) {
		return false
	}
	letters := 0
	for _, r := range t {
		if unicode.IsLetter(r) {
			letters++
		}
	}
	return letters >= 2
}

// splitRow splits a table line into cells: on tabs, on pipes for Markdown,
// or with layout on runs of two or more spaces.
func splitRow(raw string, layout bool) []string {
	t := strings.TrimSpace(raw)
	var parts []string
	switch {
	case strings.HasPrefix(t, "|") && strings.Count(t, "|") >= 2:
		t = strings.TrimSuffix(strings.TrimPrefix(t, "|"), "|")
		parts = strings.Split(t, "|")
	case strings.Count(t, " | ") >= 2:
		// a Markdown row without the outer pipes
		parts = strings.Split(t, "|")
	case strings.Contains(t, "\t"):
		parts = strings.Split(t, "\t")
	case layout && len(multiSpace.FindAllStringIndex(t, -1)) >= 1:
		parts = regexp.MustCompile(` {2,}`).Split(t, -1)
	default:
		return nil
	}
	if len(parts) > maxCells {
		return nil // not a table a vendor writes: read it as prose
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var mdMarks = strings.NewReplacer("**", "", "__", "", "`", "", "\\(", "(", "\\)", ")", "\\_", "_", "\\*", "*")

// addInline adds a piece of Markdown text that stands on line, without its
// inline markup (emphasis, code, links, HTML tags); pieces changed by that
// are marked as not literal.
func addInline(b *builder, s string, line int) {
	c := mdLinkRE.ReplaceAllString(s, "$1")
	c = inlineTag.ReplaceAllString(c, " ")
	c = mdMarks.Replace(c)
	c = strings.Join(strings.Fields(c), " ")
	b.add(c, line, c == strings.Join(strings.Fields(s), " "))
}
