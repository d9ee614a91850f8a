package main

import (
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/extract"
	"github.com/portolan/portolan/hostsrc"
	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/internal/textsafe"
)

func init() { extraCommands = append(extraCommands, newImportCmd) }

func newImportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Write a profile from a vendor's machine-readable endpoint list",
		Long: `Write a profile from a list a vendor publishes for machines to read, not
from a document (for documents, see portolan extract).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImportM365Cmd())
	return cmd
}

func newImportM365Cmd() *cobra.Command {
	var area, slug, version, outFile string
	cmd := &cobra.Command{
		Use:   "m365 FILE|URL",
		Short: "A profile from the Microsoft 365 endpoints web service's JSON",
		Long: `Read the JSON of the Microsoft 365 IP address and URL web service's
endpoints method (a file, - for standard input, or its https URL) and write
a profile: one host set per endpoint set (its URLs, wildcards and IPv4/IPv6
ranges), one flow per set and protocol with the set's TCP and UDP ports,
required or optional as the list says, and no SSL inspection for the
Optimize and Allow sets. Every statement quotes the set's "id" on its line
of the JSON. The list's version is the profile's revision: from
--list-version, or, for a URL, from the service's version method.

--service-area keeps one service area (Exchange, SharePoint, Skype,
Common); Teams is Skype. A URL without a clientrequestid gets a random one,
as the service asks.

Exit codes: 0 written; 1 nothing of the service area in the list; 2
unreadable input or usage.`,
		Example: `  # a saved copy of the list
  portolan import m365 endpoints.json --service-area Skype --list-version 2024053100 -o teams.yaml

  # straight from Microsoft (the version method gives the revision)
  portolan import m365 https://endpoints.office.com/endpoints/worldwide --service-area Skype -o teams.yaml

  # then, as with any profile
  portolan rules --catalog . m365-skype --target nftables --no-resolve`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := args[0]
			var data []byte
			doc := filepath.Base(src)
			if u, err := url.Parse(src); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
				var v string
				if data, v, err = hostsrc.FetchM365(cmd.Context(), src, hostsrc.Options{}); err != nil {
					return err
				}
				doc = u.Scheme + "://" + u.Host + u.Path
				if version == "" {
					if v == "" {
						warnf(cmd.ErrOrStderr(), "the list's version: the version method beside %s did not answer; give --list-version", textsafe.Terminal(doc))
					}
					version = v
				}
			} else {
				if data, err = safeio.ReadFile(src, hostsrc.MaxSize, cmd.InOrStdin()); err != nil {
					return err
				}
				if src == safeio.Stdin {
					doc = "stdin"
				}
			}
			_, out, warnings, err := extract.ImportM365(data, extract.M365Options{ServiceArea: area, Slug: slug, Document: doc, Version: version})
			for _, w := range warnings {
				warnf(cmd.ErrOrStderr(), "%s", w)
			}
			if err != nil {
				if strings.Contains(err.Error(), "no endpoint set") {
					return failed(err.Error())
				}
				return err
			}
			return writeResult(cmd.OutOrStdout(), outFile, func(w io.Writer) error {
				_, err := w.Write(out)
				return err
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&area, "service-area", "", "keep one service area: Exchange, SharePoint, Skype (Teams) or Common")
	fs.StringVar(&slug, "slug", "", "the service's slug (default m365, or m365-AREA)")
	fs.StringVar(&version, "list-version", "", "the list's version, recorded as the profile's revision")
	addOutputFile(fs, &outFile, "the profile")
	return cmd
}
