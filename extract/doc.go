// Package extract reads a vendor's firewall document — plain text,
// Markdown, HTML or PDF, in any of several languages — and drafts a profile
// in the catalog's format: host sets, flows and constraints, each traced to
// the line it came from, with notes where the reading is unsure and a list
// of the lines that mention ports, protocols or hosts but gave nothing.
//
// Reading happens in two steps: a format reader (text.go for text,
// Markdown and pdftotext's output, html.go) turns the document into units
// — headings, paragraphs, list items, table rows with their cells — that
// remember which source line each piece of text stands on; the extractor
// reads the units with the tokenizer of lex.go and the vocabularies of
// words.go: ports.go decides which numbers are ports and their protocols,
// table.go what a table's columns hold, context.go direction and
// necessity, flows.go the hosts and flows, constraints.go the
// constraints, quote.go the quotes; profile.go writes the result.
// m365.go imports Microsoft's published endpoint list instead.
package extract

import (
	"strings"
)

// Kind is what a unit of a document is.
type Kind int

// Unit kinds.
const (
	Para    Kind = iota // a paragraph of prose
	Heading             // a heading or title
	Item                // a list item
	Row                 // a table row
)

// Unit is one heading, paragraph, list item or table row. Text is its
// text, cells joined by " | " for a row; Spans say which source line each
// piece of Text stands on.
type Unit struct {
	Kind  Kind
	Level int // heading level, 1 for a title
	Text  string
	Spans []Span
	Cells []Cell // table rows only
	// Table numbers the table a row belongs to (rows of one table share
	// it); Header marks a row of header cells (th, or a Markdown header).
	Table  int
	Header bool
}

// Span is a piece Text[Off:End] of a unit's text that stands on one source
// line. Lit says the piece is written on the line exactly as in Text (HTML
// entities and Markdown emphasis are not).
type Span struct {
	Off, End int
	Line     int
	Lit      bool
}

// Cell is one cell Text[Off:End] of a table row.
type Cell struct{ Off, End int }

// Line is the first source line of the unit.
func (u *Unit) Line() int {
	if len(u.Spans) == 0 {
		return 0
	}
	return u.Spans[0].Line
}

// LineAt returns the source line of the text at offset off.
func (u *Unit) LineAt(off int) int {
	for _, s := range u.Spans {
		if off >= s.Off && off < s.End {
			return s.Line
		}
	}
	return u.Line()
}

// span returns the span holding offset off.
func (u *Unit) span(off int) (Span, bool) {
	for _, s := range u.Spans {
		if off >= s.Off && off < s.End {
			return s, true
		}
	}
	return Span{}, false
}

// CellText returns the text of cell i.
func (u *Unit) CellText(i int) string {
	if i < 0 || i >= len(u.Cells) {
		return ""
	}
	c := u.Cells[i]
	return u.Text[c.Off:c.End]
}

// CellAt returns the index of the cell holding offset off, or -1.
func (u *Unit) CellAt(off int) int {
	for i, c := range u.Cells {
		if off >= c.Off && off <= c.End {
			return i
		}
	}
	return -1
}

// builder assembles a unit piece by piece.
type builder struct {
	u Unit
	b strings.Builder
}

// add appends text that stands on line; lit says it stands there as is.
func (b *builder) add(text string, line int, lit bool) {
	if text == "" || b.b.Len() > MaxUnit {
		return
	}
	off := b.b.Len()
	b.b.WriteString(text)
	b.u.Spans = append(b.u.Spans, Span{Off: off, End: b.b.Len(), Line: line, Lit: lit})
}

// sep appends a separator that stands on no line.
func (b *builder) sep(s string) {
	if b.b.Len() <= MaxUnit {
		b.b.WriteString(s)
	}
}

// MaxUnit bounds the text of one unit (a paragraph, a row): what follows
// in the same paragraph is not read, which keeps the reading linear in the
// document's size.
const MaxUnit = 32 << 10

// maxCells bounds the cells of a row; the cells past it join the last.
const maxCells = 64

func (b *builder) startCell() int { return b.b.Len() }

func (b *builder) endCell(off int) {
	if n := len(b.u.Cells); n >= maxCells {
		b.u.Cells[n-1].End = b.b.Len()
		return
	}
	b.u.Cells = append(b.u.Cells, Cell{Off: off, End: b.b.Len()})
}

func (b *builder) len() int { return b.b.Len() }

func (b *builder) unit() Unit {
	b.u.Text = b.b.String()
	return b.u
}

// Document is a document read into units, with its raw lines for quoting.
type Document struct {
	Name  string // the file's base name
	Title string
	Lang  string // from the document itself (HTML lang), may be empty
	Units []Unit
	// Lines are the source lines as `portolan validate --documents` reads
	// them: quotes are checked against these.
	Lines []string
}
