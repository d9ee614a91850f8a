package audit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes a report for people: one line per flow, then the
// failing flows' parts with witness packets, then the services.
func WriteTable(out io.Writer, rep *Report) error {
	w := &errWriter{w: out}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tFLOW\tNEED\tPROTO\tPORTS\tVERDICT\tWHY")
	for _, f := range rep.Flows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Service, f.Flow, f.Necessity, f.Proto, f.Ports, f.Verdict, f.Summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	first := true
	for _, f := range rep.Flows {
		if f.Verdict == Allowed || f.Verdict == Skipped {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nFlows not allowed:")
			first = false
		}
		fmt.Fprintf(w, "\n  %s/%s (%s %s %s, %s): %s\n", f.Service, f.Flow, f.Direction, f.Proto, f.Ports, f.Necessity, f.Verdict)
		for _, n := range f.Notes {
			fmt.Fprintf(w, "    note: %s\n", n)
		}
		for _, p := range f.Parts {
			fmt.Fprintf(w, "    %-9s %-11s IPv%d %s", p.Result, p.Packet, p.Family, describe(p))
			if p.Rule != nil {
				fmt.Fprintf(w, "\n              by %s", p.Rule)
			}
			if p.Why != "" {
				fmt.Fprintf(w, "\n              %s", p.Why)
			}
			if p.Witness != nil {
				fmt.Fprintf(w, "\n              e.g. %s", p.Witness)
			}
			fmt.Fprintln(w)
		}
		for _, s := range f.Shadowed {
			fmt.Fprintf(w, "    shadowed  %s", s.Rule)
			if s.Rule.Verdict != "" {
				fmt.Fprintf(w, " (%s)", s.Rule.Verdict)
			}
			if s.By != nil {
				fmt.Fprintf(w, ", decided before by %s", s.By)
			}
			fmt.Fprintln(w)
		}
		if f.ShadowedMore {
			fmt.Fprintln(w, "    shadowed  … and more")
		}
	}
	fmt.Fprintln(w, "\nServices:")
	for _, s := range rep.Services {
		fmt.Fprintf(w, "  %s: %d of %d required flows allowed", s.Service, s.Allowed, s.Required)
		if len(s.Failing) > 0 {
			fmt.Fprintf(w, "; failing: %s", strings.Join(s.Failing, ", "))
		}
		fmt.Fprintln(w)
	}
	if len(rep.Constraints) > 0 {
		fmt.Fprintln(w, "\nConstraints:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  SERVICE\tCONSTRAINT\tKIND\tSTATUS\tWHY")
		for _, c := range rep.Constraints {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Service, c.ID, c.Kind, c.Status, c.Why)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, c := range rep.Constraints {
			if c.Fix == "" {
				continue
			}
			what := "fix"
			if c.Status == ConstraintNotAuditable || c.Status == ConstraintUnknown {
				what = "check"
			}
			fmt.Fprintf(w, "  %s/%s: %s: %s\n", c.Service, c.ID, what, c.Fix)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return w.err
}

// errWriter keeps the first error of its writes, so that a report cut
// short fails rather than passes for whole.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func describe(p Part) string {
	s := fmt.Sprintf("%s > %s", p.Src, p.Dst)
	if p.SrcPorts != "any" {
		s += " sport " + p.SrcPorts
	}
	s += " dport " + p.DstPorts
	if p.IIf != "" && p.IIf != "any" {
		s += " in " + p.IIf
	}
	if p.OIf != "" && p.OIf != "any" {
		s += " out " + p.OIf
	}
	if p.Except > 0 {
		s += fmt.Sprintf(", except %d pieces other rules decide", p.Except)
	}
	return s
}
