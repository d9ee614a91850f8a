package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/textsafe"
	"github.com/portolan/portolan/report"
)

// validation is the result for one file, as `validate --output json` prints it.
type validation struct {
	File    string           `json:"file"`
	OK      bool             `json:"ok"`
	Service string           `json:"service,omitempty"`
	Flows   int              `json:"flows"`
	Errors  []*catalog.Error `json:"errors"`
}

func newValidateCmd(g *globals) *cobra.Command {
	var (
		docs    string
		output  string
		outFile string
	)
	cmd := &cobra.Command{
		Use:   "validate FILE|DIR|-...",
		Short: "Check profiles: syntax, fields, ports, addresses, references, sources",
		Long: `Check profiles the way the embedded catalog is checked: unknown fields,
ports 0 or above 65535, reversed ranges, bad addresses or CIDRs, undefined
host sets, roles, features or params, duplicate ids, missing sources. Every
problem is reported with file, line, column and field.

With --documents DIR, every quote must also stand in its source document
(read from DIR) on the line it names.

A directory stands for the *.yaml and *.yml files in it, - for standard
input. Only regular files are read (devices, FIFOs refused). Exit 0 when every
profile is valid, 1 when one is not, 2 when a file cannot be read.`,
		Example: `  portolan validate my-service.yaml
  portolan validate ./profiles --documents ./vendor-docs
  portolan validate my-service.yaml --output json | jq '.[].errors[]'
  portolan validate ./profiles --output json -o validation.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := report.CheckFormat(output, report.Table, report.JSON); err != nil {
				return err
			}
			files, err := expandFiles(args)
			if err != nil {
				return err
			}
			results := make([]validation, 0, len(files))
			bad := 0
			slugs := map[string]string{}
			for _, f := range files {
				r := validation{File: f, Errors: []*catalog.Error{}}
				svc, err := catalog.LoadFile(f)
				var es catalog.Errors
				switch {
				case errors.As(err, &es):
					r.Errors = es
				case err != nil:
					return err // unreadable: exit 2
				default:
					r.Service, r.Flows = svc.Slug(), len(svc.Flows)
					if prev, dup := slugs[svc.Slug()]; dup {
						r.Errors = append(r.Errors, &catalog.Error{File: f, Field: "service.slug",
							Msg: fmt.Sprintf("slug %q is also the slug of %s", svc.Slug(), prev)})
					}
					slugs[svc.Slug()] = f
					if docs != "" {
						r.Errors = append(r.Errors, catalog.CheckSources(svc, docs)...)
					}
				}
				r.OK = len(r.Errors) == 0
				if !r.OK {
					bad++
				}
				results = append(results, r)
			}
			err = writeResult(cmd.OutOrStdout(), outFile, func(w io.Writer) error {
				if output == report.JSON {
					return report.WriteJSON(w, results)
				}
				for _, r := range results {
					if r.OK {
						fmt.Fprintf(w, "%s: ok (service %s, %d flows)\n", textsafe.Terminal(r.File), textsafe.Terminal(r.Service), r.Flows)
						continue
					}
					for _, e := range r.Errors {
						fmt.Fprintln(w, textsafe.Terminal(e.Error()))
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if bad > 0 {
				return failed(fmt.Sprintf("%d of %d profiles invalid", bad, len(results)))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&docs, "documents", "", "directory of the source documents; check that every quote stands in them")
	cmd.Flags().StringVar(&output, "output", report.Table, "the format: table or json")
	addOutputFile(cmd.Flags(), &outFile, "the results")
	return cmd
}

// expandFiles replaces each directory by the profiles in it.
func expandFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if a == "-" {
			out = append(out, a) // standard input
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		files, err := catalog.ProfileFiles(a)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, &fs.PathError{Op: "validate", Path: a, Err: errors.New("no *.yaml or *.yml profiles in this directory")}
		}
		out = append(out, files...)
	}
	return out, nil
}

func newSchemaCmd() *cobra.Command {
	var outFile string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of a profile, for editors",
		Long: `Print the JSON Schema (draft 2020-12) of a service profile. Point your
editor's YAML language server at it to complete and check profiles as you
write them, e.g. with a first line
  # yaml-language-server: $schema=./profile.schema.json`,
		Example: `  portolan schema -o profile.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeResult(cmd.OutOrStdout(), outFile, func(w io.Writer) error {
				_, err := w.Write(catalog.Schema())
				return err
			})
		},
	}
	addOutputFile(cmd.Flags(), &outFile, "the schema")
	return cmd
}
