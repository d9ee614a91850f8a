package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

// Formats accepted by --output.
const (
	Table = "table"
	JSON  = "json"
	YAML  = "yaml"
)

// CheckFormat reports an error when f is not one of allowed.
func CheckFormat(f string, allowed ...string) error {
	for _, a := range allowed {
		if f == a {
			return nil
		}
	}
	return fmt.Errorf("--output %q: one of %s", f, strings.Join(allowed, ", "))
}

// WriteJSON writes v as indented JSON and a newline. Empty slices are
// written as [] so that scripts always get an array.
func WriteJSON(w io.Writer, v any) error {
	// Encoded compact, then indented by indent, what SetIndent writes byte
	// for byte: encoding/json's own indenting (SetIndent, json.Indent)
	// runs its scanner over every byte again, most of the time of a large
	// report (9.5 ms against 3.0 ms for the report of an audit of 10k
	// rules).
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return writeIndented(w, compact.Bytes(), 32<<10)
}

// WriteYAML writes v as YAML.
func WriteYAML(w io.Writer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

// ServiceSummary is one row of `portolan list`.
type ServiceSummary struct {
	Slug          string   `json:"slug" yaml:"slug"`
	Name          string   `json:"name" yaml:"name"`
	Vendor        string   `json:"vendor" yaml:"vendor"`
	Document      string   `json:"document" yaml:"document"`
	Language      string   `json:"language" yaml:"language"`
	Flows         int      `json:"flows" yaml:"flows"`
	DefaultFlows  int      `json:"default_flows" yaml:"default_flows"`
	RequiredFlows int      `json:"required_flows" yaml:"required_flows"`
	Constraints   int      `json:"constraints" yaml:"constraints"`
	Features      []string `json:"features" yaml:"features"`
	DefaultOn     []string `json:"features_on_by_default" yaml:"features_on_by_default"`
	Params        []string `json:"params" yaml:"params"`
	File          string   `json:"file" yaml:"file"`
}

// Summarize counts a service's flows: all of them (one per protocol, every
// feature on), those of the default features, and the required ones among
// those.
func Summarize(svc *model.Service) (ServiceSummary, error) {
	s := ServiceSummary{
		Slug: svc.Slug(), Name: svc.Info.Name, Vendor: svc.Info.Vendor,
		Document: svc.Info.Document, Language: svc.Info.Language,
		Constraints: len(svc.Constraints), File: svc.File,
		Features: []string{}, DefaultOn: []string{}, Params: []string{},
	}
	for _, f := range svc.Flows {
		s.Flows += len(f.Proto)
	}
	for _, f := range svc.Features {
		s.Features = append(s.Features, f.Name)
		if f.Default {
			s.DefaultOn = append(s.DefaultOn, f.Name)
		}
	}
	for _, p := range svc.Params {
		s.Params = append(s.Params, p.Name)
	}
	cs, err := resolve.Choose([]*model.Service{svc}, resolve.Selection{})
	if err != nil {
		return s, err
	}
	flows, err := cs[0].Flows(false)
	if err != nil {
		return s, err
	}
	s.DefaultFlows = len(flows)
	for _, f := range flows {
		if f.Necessity == model.Required {
			s.RequiredFlows++
		}
	}
	return s, nil
}

// ListTable writes `portolan list` for people.
func ListTable(w io.Writer, rows []ServiceSummary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tNAME\tVENDOR\tLANG\tFLOWS\tDEFAULT\tREQUIRED\tCONSTRAINTS\tFEATURES (* on by default)\tPARAMS")
	for _, r := range rows {
		on := map[string]bool{}
		for _, f := range r.DefaultOn {
			on[f] = true
		}
		var feats []string
		for _, f := range r.Features {
			if on[f] {
				f += "*"
			}
			feats = append(feats, f)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Slug, r.Name, r.Vendor, r.Language,
			r.Flows, r.DefaultFlows, r.RequiredFlows, r.Constraints, orDash(strings.Join(feats, ", ")), orDash(strings.Join(r.Params, ", ")))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
