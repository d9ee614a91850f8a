package catalog

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/model"
)

// MaxDocumentSize bounds what CheckSources reads of one source document.
const MaxDocumentSize = 16 << 20

// Sourced is one statement of a profile that carries a source.
type Sourced struct {
	Field  string // flows[3].source
	What   string // flow "tunnel-udp"
	Source model.Source
}

// Sources lists every source a profile carries, flows and constraints first.
func Sources(svc *model.Service) []Sourced {
	var out []Sourced
	for i, f := range svc.Flows {
		out = append(out, Sourced{fmt.Sprintf("flows[%d].source", i), fmt.Sprintf("flow %q", f.ID), f.Source})
		if f.LocalSrcPorts != nil {
			out = append(out, Sourced{fmt.Sprintf("flows[%d].local_src_ports.source", i), fmt.Sprintf("source ports of flow %q", f.ID), f.LocalSrcPorts.Source})
		}
	}
	for i, c := range svc.Constraints {
		out = append(out, Sourced{fmt.Sprintf("constraints[%d].source", i), fmt.Sprintf("constraint %q", c.ID), c.Source})
	}
	for i, h := range svc.Hosts {
		if h.Source != nil {
			out = append(out, Sourced{fmt.Sprintf("hosts[%d].source", i), fmt.Sprintf("host set %q", h.Name), *h.Source})
		}
	}
	for i, f := range svc.Features {
		if f.Source != nil {
			out = append(out, Sourced{fmt.Sprintf("features[%d].source", i), fmt.Sprintf("feature %q", f.Name), *f.Source})
		}
	}
	for i, p := range svc.Params {
		if p.Source != nil {
			out = append(out, Sourced{fmt.Sprintf("params[%d].source", i), fmt.Sprintf("param %q", p.Name), *p.Source})
		}
	}
	return out
}

// CheckSources checks that every quote of svc stands in its document, read
// from dir, on the line it names. A quote with no line must stand on one
// line only.
func CheckSources(svc *model.Service, dir string) Errors {
	var errs Errors
	docs := map[string][]string{}
	for _, s := range Sources(svc) {
		doc := svc.SourceDocument(s.Source)
		lines, ok := docs[doc]
		if !ok {
			data, err := safeio.ReadFile(filepath.Join(dir, filepath.Base(doc)), MaxDocumentSize, nil)
			if err != nil {
				errs = append(errs, &Error{File: svc.File, Field: s.Field, Msg: fmt.Sprintf("%s: cannot read its document: %v", s.What, err)})
				docs[doc] = nil
				continue
			}
			lines = strings.Split(string(data), "\n")
			docs[doc] = lines
		}
		if lines == nil {
			continue
		}
		if err := CheckQuote(lines, s.Source); err != nil {
			errs = append(errs, &Error{File: svc.File, Field: s.Field, Msg: fmt.Sprintf("%s: %v in %s", s.What, err, doc)})
		}
	}
	return errs
}

// CheckQuote checks one quote against a document's lines. White space is
// compared loosely: a run of spaces, tabs or no-break spaces in the quote or
// the document reads as one space, so a quote need not copy invisible
// characters.
func CheckQuote(lines []string, src model.Source) error {
	q := src.Quote
	if strings.TrimSpace(q) == "" {
		return fmt.Errorf("empty quote")
	}
	if src.Line > 0 {
		if src.Line > len(lines) {
			return fmt.Errorf("line %d is past the end (%d lines)", src.Line, len(lines))
		}
		if !strings.Contains(foldSpace(lines[src.Line-1]), foldSpace(q)) {
			if at := QuoteLines(lines, q); len(at) > 0 {
				return fmt.Errorf("quote %q is not on line %d but on line %s", q, src.Line, joinInts(at))
			}
			return fmt.Errorf("quote %q is not on line %d", q, src.Line)
		}
		return nil
	}
	switch at := QuoteLines(lines, q); len(at) {
	case 0:
		return fmt.Errorf("quote %q does not stand", q)
	case 1:
		return nil
	default:
		return fmt.Errorf("quote %q stands on lines %s; say which with line", q, joinInts(at))
	}
}

// QuoteLines returns the 1-based lines on which q stands.
func QuoteLines(lines []string, q string) []int {
	var at []int
	q = foldSpace(q)
	for i, l := range lines {
		if strings.Contains(foldSpace(l), q) {
			at = append(at, i+1)
		}
	}
	return at
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// foldSpace turns every run of white space into one space.
func foldSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
