package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/report"
	"github.com/portolan/portolan/resolve"
)

func newListCmd(g *globals) *cobra.Command {
	var output, outFile string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the services in the catalog",
		Long: `List the services in the catalog with their vendor, how many flows they
have (every feature on, one per protocol), how many the default features
give and how many of those are required, their constraints, features (* on
by default) and params.`,
		Example: `  portolan list
  portolan list --output json | jq -r '.[].slug'
  portolan list --output json -o services.json
  portolan list --catalog ./my-profiles`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := report.CheckFormat(output, report.Table, report.JSON, report.YAML); err != nil {
				return err
			}
			c, err := g.open()
			if err != nil {
				return err
			}
			rows := []report.ServiceSummary{}
			for _, s := range c.Services() {
				r, err := report.Summarize(s)
				if err != nil {
					return err
				}
				rows = append(rows, r)
			}
			return writeResult(cmd.OutOrStdout(), outFile, func(w io.Writer) error {
				switch output {
				case report.JSON:
					return report.WriteJSON(w, rows)
				case report.YAML:
					return report.WriteYAML(w, rows)
				}
				return terminalTable(func(w io.Writer) error { return report.ListTable(w, rows) })(w)
			})
		},
	}
	cmd.Flags().StringVar(&output, "output", report.Table, "the format: table, json or yaml")
	addOutputFile(cmd.Flags(), &outFile, "the list")
	return cmd
}

func newShowCmd(g *globals) *cobra.Command {
	var (
		sel         selectFlags
		output      string
		outFile     string
		constraints bool
		strict      bool
	)
	cmd := &cobra.Command{
		Use:   "show SERVICE... | all",
		Short: "Show what services need from the firewall",
		Long: `Show every flow the services need — direction, protocol, ports, local role,
remote hosts, necessity, application — grouped by feature, with the line of
the vendor's document each comes from, then the constraints that are not
ports (ALGs, NAT timeouts, TLS versions, SSL inspection, proxy auth).

Features are optional parts of a service; the defaults follow the document.
Params fill in what a site must supply (StarLeaf's company name, Pexip's SBC
address); a param not given stays a placeholder such as {company}.call.sl,
unless --strict makes it an error.

--output json prints one array of flow objects, one per protocol, with at
least: service, id, direction, proto, ports (strings, "lo-hi" for ranges),
dest (the remote entries as written), necessity, feature, purpose, source
{document, quote, line}. With --constraints it prints the constraints instead.`,
		Example: `  portolan show starleaf
  portolan show starleaf pexip --param company=acme --feature webrtc
  portolan show onsight --all-features --output json | jq '.[] | select(.necessity=="required")'
  portolan show tw-solutions --constraints --output json
  portolan show all --output yaml -o catalog.yaml`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: g.serviceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := report.CheckFormat(output, report.Table, report.JSON, report.YAML); err != nil {
				return err
			}
			choices, err := g.choose(args, &sel)
			if err != nil {
				return err
			}
			views := make([]report.ServiceView, 0, len(choices))
			allFlows := []resolve.Flow{}
			allCons := []resolve.Constraint{}
			for _, c := range choices {
				flows, err := c.Flows(strict)
				if err != nil {
					return err
				}
				cons := c.Constraints()
				views = append(views, report.ServiceView{Choice: c, Flows: flows, Constraints: cons})
				allFlows = append(allFlows, flows...)
				allCons = append(allCons, cons...)
			}
			var v any = allFlows
			if constraints {
				v = allCons
			}
			return writeResult(cmd.OutOrStdout(), outFile, func(w io.Writer) error {
				switch output {
				case report.JSON:
					return report.WriteJSON(w, v)
				case report.YAML:
					return report.WriteYAML(w, v)
				}
				return terminalTable(func(w io.Writer) error { return report.ShowTable(w, views) })(w)
			})
		},
	}
	sel.register(cmd.Flags())
	cmd.Flags().StringVar(&output, "output", report.Table, "the format: table, json or yaml")
	addOutputFile(cmd.Flags(), &outFile, "the flows or constraints")
	cmd.Flags().BoolVar(&constraints, "constraints", false, "with json or yaml, print the constraints instead of the flows")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail when a flow needs a param that is not set")
	return cmd
}
