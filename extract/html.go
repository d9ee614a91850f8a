package extract

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// readHTML reads an HTML page: headings, paragraphs, list items and table
// rows (th/td cells) become units; every piece of text remembers the
// source line it stands on. Scripts, styles and comments are skipped.
func readHTML(name string, data []byte) *Document {
	src := strings.ToValidUTF8(string(data), "\uFFFD")
	d := &Document{Name: name, Lines: strings.Split(src, "\n")}
	z := html.NewTokenizer(strings.NewReader(src))
	z.SetMaxBuf(len(src) + 1)
	line := 1
	var (
		cur        *builder
		cell       = -1 // offset of the open cell, -1 when none
		tables     int
		tableStack []int
		inHead     bool
		skip       int // depth inside script/style
		inTitle    bool
		allTH      bool
		pre        bool
		preText    strings.Builder // the text of an open <pre>, read as plain text at its end
		preLine    int             // the line the <pre>'s text starts on
	)
	flush := func() {
		if cur == nil {
			return
		}
		if cell >= 0 {
			cur.endCell(cell)
			cell = -1
		}
		u := cur.unit()
		if u.Kind == Row {
			u.Header = u.Header || allTH && len(u.Cells) > 0
		}
		if strings.TrimSpace(u.Text) != "" {
			d.Units = append(d.Units, u)
		}
		cur = nil
	}
	inRow := func() bool { return cur != nil && cur.u.Kind == Row }
	start := func(k Kind, level int) {
		flush()
		cur = &builder{u: Unit{Kind: k, Level: level}}
	}
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := z.Raw()
		startLine := line
		line += bytes.Count(raw, []byte{'\n'})
		switch tt {
		case html.TextToken:
			if skip > 0 {
				continue
			}
			if inTitle {
				d.Title = strings.TrimSpace(d.Title + " " + html.UnescapeString(string(raw)))
				continue
			}
			if strings.TrimSpace(string(raw)) == "" {
				if cur != nil && cur.len() > 0 {
					cur.sep(" ")
				}
				continue
			}
			if pre && !inRow() {
				if preText.Len() == 0 {
					preLine = startLine
				}
				if preText.Len() < MaxUnit {
					preText.WriteString(html.UnescapeString(string(raw)))
				}
				continue
			}
			if len(tableStack) > 0 && !inRow() && cur == nil {
				continue // stray text between rows
			}
			if cur == nil {
				start(Para, 0)
			}
			for i, piece := range strings.Split(string(raw), "\n") {
				n := startLine + i
				if pre && i > 0 && cur.u.Kind == Para {
					flush()
					start(Para, 0)
				} else if i > 0 && cur.len() > 0 {
					cur.sep(" ")
				}
				addHTMLText(cur, piece, n)
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			tn, hasAttr := z.TagName()
			a := atom.Lookup(tn)
			end := tt == html.EndTagToken
			if a == atom.Html && hasAttr {
				for {
					k, v, more := z.TagAttr()
					if string(k) == "lang" && len(v) >= 2 {
						d.Lang = strings.ToLower(string(v[:2]))
					}
					if !more {
						break
					}
				}
			}
			switch a {
			case atom.Script, atom.Style, atom.Noscript, atom.Template:
				if tt == html.SelfClosingTagToken {
					continue
				}
				if end {
					if skip > 0 {
						skip--
					}
				} else {
					skip++
				}
			case atom.Title:
				inTitle = !end && tt != html.SelfClosingTagToken
			case atom.Table:
				flush()
				if end {
					if len(tableStack) > 0 {
						tableStack = tableStack[:len(tableStack)-1]
					}
				} else {
					tables++
					tableStack = append(tableStack, tables)
				}
			case atom.Thead:
				inHead = !end
			case atom.Tr:
				flush()
				if !end {
					start(Row, 0)
					if len(tableStack) > 0 {
						cur.u.Table = tableStack[len(tableStack)-1]
					}
					cur.u.Header = inHead
					allTH = true
				}
			case atom.Td, atom.Th:
				if !inRow() {
					if end {
						continue
					}
					start(Row, 0)
					if len(tableStack) > 0 {
						cur.u.Table = tableStack[len(tableStack)-1]
					}
					allTH = true
				}
				if cell >= 0 {
					cur.endCell(cell)
					cell = -1
				}
				if !end {
					if a == atom.Td {
						allTH = false
					}
					if len(cur.u.Cells) > 0 {
						cur.sep(" | ")
					}
					cell = cur.startCell()
				}
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				if inRow() {
					cur.sep(" ")
					continue
				}
				if end {
					flush()
				} else {
					start(Heading, int(tn[1]-'0'))
				}
			case atom.Li, atom.Dt, atom.Dd:
				if inRow() {
					cur.sep("; ")
					continue
				}
				if end {
					flush()
				} else {
					start(Item, 0)
				}
			case atom.P, atom.Div, atom.Ul, atom.Ol, atom.Dl, atom.Blockquote, atom.Section, atom.Article,
				atom.Header, atom.Footer, atom.Nav, atom.Main, atom.Aside, atom.Figure, atom.Figcaption, atom.Caption, atom.Hr:
				if inRow() {
					cur.sep(" ")
					continue
				}
				flush()
			case atom.Pre:
				if inRow() {
					continue
				}
				flush()
				if end && pre && preText.Len() > 0 {
					// a <pre> block: columns aligned with spaces, as text
					sub := readText("", []byte(preText.String()), true)
					ids := map[int]int{}
					for _, u := range sub.Units {
						for k := range u.Spans {
							u.Spans[k].Line += preLine - 1
						}
						if u.Table > 0 {
							if ids[u.Table] == 0 {
								tables++
								ids[u.Table] = tables
							}
							u.Table = ids[u.Table]
						}
						d.Units = append(d.Units, u)
					}
					preText.Reset()
				}
				pre = !end
			case atom.Br:
				if cur != nil {
					if inRow() || cur.u.Kind != Para {
						cur.sep(" ")
					} else {
						flush()
					}
				}
			}
		}
	}
	flush()
	if d.Title == "" {
		for _, u := range d.Units {
			if u.Kind == Heading {
				d.Title = u.Text
				break
			}
		}
	}
	return d
}

// addHTMLText adds one line's piece of a raw text token: entities decoded,
// spaces folded. Pieces between entities stand on the line as they are.
func addHTMLText(b *builder, raw string, line int) {
	if strings.TrimSpace(raw) == "" {
		if b.len() > 0 {
			b.sep(" ")
		}
		return
	}
	if len(raw) > MaxLineLen {
		raw = raw[:MaxLineLen]
	}
	lead := raw[0] == ' ' || raw[0] == '\t' || raw[0] == '\r'
	if lead && b.len() > 0 {
		b.sep(" ")
	}
	// Split at entities so that the literal pieces keep their lines.
	rest := strings.TrimSpace(raw)
	for rest != "" {
		i := strings.IndexByte(rest, '&')
		if i < 0 {
			b.add(strings.Join(strings.Fields(rest), " "), line, true)
			break
		}
		j := strings.IndexByte(rest[i:], ';')
		if j < 0 || j > 12 {
			b.add(strings.Join(strings.Fields(rest[:i+1]), " "), line, true)
			rest = rest[i+1:]
			continue
		}
		if i > 0 {
			piece := rest[:i]
			b.add(strings.Join(strings.Fields(piece), " "), line, true)
			if strings.HasSuffix(piece, " ") {
				b.sep(" ")
			}
		}
		ent := html.UnescapeString(rest[i : i+j+1])
		b.add(ent, line, false)
		rest = rest[i+j+1:]
		if strings.HasPrefix(rest, " ") {
			b.sep(" ")
		}
	}
	if strings.HasSuffix(raw, " ") || strings.HasSuffix(raw, "\t") {
		b.sep(" ")
	}
}
