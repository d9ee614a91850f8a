package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portolan/portolan/probe"
)

// HTML is the --output format of a self-contained HTML report.
const HTML = "html"

// probeStatusWord writes a status so that failures stand out in a table.
func probeStatusWord(s probe.Status) string {
	switch s {
	case probe.Fail, probe.Error, probe.Warn:
		return strings.ToUpper(string(s))
	}
	return string(s)
}

// ProbeTable writes a probe report as a table, then the details of what
// is not ok, then a verdict line.
func ProbeTable(w io.Writer, r *probe.Report) error {
	fmt.Fprintf(w, "portolan probe %s — %s, %s\n", strings.Join(r.Services, " "),
		r.Started.Format(time.RFC3339), time.Duration(r.Elapsed).Round(time.Millisecond))
	if r.Reflector != "" {
		fmt.Fprintf(w, "  reflector %s\n", r.Reflector)
	}
	if r.Proxy != "" {
		fmt.Fprintf(w, "  proxy     %s\n", r.Proxy)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tSERVICE\tFLOW\tTARGET\tVIA\tRESULT")
	for _, x := range r.Results {
		flow := x.Flow
		if x.Constraint != "" {
			if flow != "" {
				flow += " "
			}
			flow += "[" + x.Constraint + "]"
		}
		if flow == "" {
			flow = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", probeStatusWord(x.Status), x.Check, x.Service, flow, x.Target, orDash(x.Via), x.Summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var details []probe.Result
	for _, x := range r.Results {
		if (x.Status == probe.Fail || x.Status == probe.Error || x.Status == probe.Warn) && len(x.Details) > 0 {
			details = append(details, x)
		}
	}
	if len(details) > 0 {
		fmt.Fprintln(w, "\nDetails")
		for _, x := range details {
			fmt.Fprintf(w, "  %s %s %s/%s %s: %s\n", probeStatusWord(x.Status), x.Check, x.Service, orDash(x.Flow), x.Target, x.Summary)
			for _, d := range x.Details {
				fmt.Fprintf(w, "      %s\n", d)
			}
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "\nResolution")
		for _, s := range r.Warnings {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	fmt.Fprintf(w, "\n%s\n", Verdict(r))
	return nil
}

// Verdict is the one-line conclusion of a probe.
func Verdict(r *probe.Report) string {
	var counts []string
	for _, s := range probe.Statuses {
		if n := r.Counts[s]; n > 0 {
			word := string(s)
			if s == probe.Skip {
				word = "not probed"
			}
			counts = append(counts, fmt.Sprintf("%d %s", n, word))
		}
	}
	c := strings.Join(counts, ", ")
	if c == "" {
		c = "nothing probed"
	}
	if r.OK {
		return "OK: every required check passed (" + c + ")"
	}
	if r.Failures == 0 && r.Probed() == 0 {
		return "FAILED: nothing was probed (" + c + "); see why each was not, and give what it lacks (--reflector, --endpoint, --hosts, DNS)"
	}
	var failed []string
	for _, x := range r.Results {
		if x.Failed() {
			name := x.Service + "/" + orDash(x.Flow)
			if x.Constraint != "" {
				name = x.Service + "/" + x.Constraint
			}
			failed = append(failed, x.Check+" "+name)
		}
	}
	return fmt.Sprintf("FAILED: %d required %s failed: %s (%s)", r.Failures, probePlural(r.Failures, "check"), probeAbbrev(probeDedupe(failed), 6), c)
}

func probePlural(n int, w string) string {
	if n == 1 {
		return w
	}
	return w + "s"
}

func probeAbbrev(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(" and %d more", len(xs)-n)
}

func probeDedupe(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
