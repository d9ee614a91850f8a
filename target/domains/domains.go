// Package domains writes a plain list of the DNS names and wildcard
// domains the flows reach, one per line, for DNS-aware firewalls, proxies
// and allow-lists that take names (FQDN objects, URL tables).
package domains

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/target"
)

func init() { target.Register(Target{}) }

// Target is the domain list target.
type Target struct{}

// Name is "domains".
func (Target) Name() string { return "domains" }

// Synopsis describes the output.
func (Target) Synopsis() string {
	return "plain list of the names and *.wildcard domains the flows reach, one per line"
}

// Resolves is false: the list is of names.
func (Target) Resolves() bool { return false }

// Write writes the names in the order the flows first reach them. Flows
// whose remote side is only addresses or any are not in it; stderr says
// which.
func (Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	var res target.Result
	var names, without []string
	for i := range in.Flows {
		f := &in.Flows[i]
		n := 0
		for _, d := range f.Dest {
			e, err := model.ParseEntry(d)
			if err != nil {
				return res, fmt.Errorf("%s: %v", target.FlowRef(f), err)
			}
			if e.Kind != model.EntryName && e.Kind != model.EntryWildcard && e.Kind != model.EntryGlob {
				continue
			}
			n++
			if e.Kind == model.EntryGlob {
				// A pattern inside a label is nothing a name list says:
				// its nearest safe form is the domain and all below it.
				d = e.Widened()
				res.Notes = append(res.Notes, fmt.Sprintf("widened: %s: %s is listed as %s (a name list cannot say a pattern inside a label)", target.FlowRef(f), e.Raw, d))
			}
			if !slices.Contains(names, d) {
				names = append(names, d)
			}
		}
		if n == 0 && !slices.Contains(without, target.FlowRef(f)) {
			without = append(without, target.FlowRef(f))
		}
	}
	if len(without) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("skipped: %d flows reach addresses or any address, no name: %s", len(without), strings.Join(without, ", ")))
	}
	for _, s := range in.Excluded {
		res.Notes = append(res.Notes, "skipped: "+target.FlowRef(s.Flow)+": "+s.Reason)
	}
	res.Stats.Names = len(names)
	res.Stats.Rules = len(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return res, err
}
