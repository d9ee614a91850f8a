package extract

// What headings, lead lines and a statement's own words say: direction,
// necessity, purpose.

import (
	"strings"
	"unicode/utf8"

	"github.com/portolan/portolan/model"
)

// context is what a heading or a lead line says for what follows it.
type context struct {
	level     int
	dir       model.Direction
	necessity model.Necessity
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

// direction: the statement's own words, a direction column, the context
// of headings and lead lines, else outbound.
func (x *extractor) direction(u *Unit, a int, low string) model.Direction {
	if d := dirWords(low); d != "" {
		return d
	}
	if u.Kind != Row && a > 0 {
		// what the sentence before it says
		prev := u.Text[max(0, a-2000):a]
		if i := strings.LastIndexAny(strings.TrimRight(prev, " .。!?"), ".。!?"); i >= 0 {
			prev = prev[i+1:] // the sentence just before
		}
		if d := dirWords(strings.ToLower(prev)); d != "" {
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
