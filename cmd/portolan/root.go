package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

// globals are the flags every command has.
type globals struct {
	catalogDir string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "portolan",
		Short: "Firewall requirements of real-time communication services, as code",
		Long: `portolan knows what StarLeaf, STARFACE, TW Solutions, Pexip and Onsight need
from a firewall: every port, range, host, CIDR and wildcard domain, with the
line of the vendor's document it comes from, and the constraints that are not
ports but break calls all the same (SIP ALG, NAT timeouts, SSL inspection,
proxy authentication).

Start with:
  portolan list                         the services in the catalog
  portolan show starleaf                what StarLeaf needs, with its sources
  portolan rules tw-solutions           nftables rules for TW Solutions (--target iptables, fortigate,
                                        pfsense, opnsense, routeros, asa, firewalld, squid…)
  nft -j list ruleset | portolan audit starleaf --param company=acme --ruleset -
                                        does the ruleset you run allow it? (also a FortiGate backup,
                                        a config.xml, a RouterOS export, an ASA running-config)
  portolan probe starleaf --param company=acme
                                        does it really work from here?
  portolan serve                        the same in a browser, on 127.0.0.1:8478
  portolan exporter --config FILE       probes for Prometheus, like blackbox_exporter
  portolan extract vendor-page.html     a draft profile from a vendor's document

Exit codes: 0 success; 1 the check failed; 2 usage error or unreadable input.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return checkOutputFile(cmd)
		},
	}
	root.SetVersionTemplate(strings.ReplaceAll(versionLine(), "{{", "{{`{{`}}") + "\n")
	root.PersistentFlags().StringVar(&g.catalogDir, "catalog", "",
		"directory of your own profiles (*.yaml); they add to the embedded catalog or replace a service of the same slug")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(newListCmd(g), newShowCmd(g), newValidateCmd(g), newSchemaCmd(), newVersionCmd())
	for _, mk := range extraCommands {
		root.AddCommand(mk(g))
	}
	registerSelectCompletions(root, g)
	return root
}

// extraCommands are the commands that register themselves from their own
// files (rules, audit, probe…), in the order they register.
var extraCommands []func(*globals) *cobra.Command

// open returns the catalog, embedded or overlaid with --catalog.
func (g *globals) open() (*catalog.Catalog, error) {
	return catalog.Open(g.catalogDir)
}

// services returns the services named on the command line.
func (g *globals) services(args []string) ([]*model.Service, error) {
	c, err := g.open()
	if err != nil {
		return nil, err
	}
	return c.Select(args)
}

// selectFlags are the flags that choose features and params.
type selectFlags struct {
	features    []string
	without     []string
	allFeatures bool
	params      []string
	platforms   []string
}

func (s *selectFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&s.features, "feature", nil,
		"turn a feature on (repeatable); SERVICE:FEATURE for one service only")
	fs.StringArrayVar(&s.without, "no-feature", nil,
		"turn a feature off, even one on by default (repeatable)")
	fs.BoolVar(&s.allFeatures, "all-features", false, "turn every feature on")
	fs.StringArrayVar(&s.params, "param", nil,
		"set a param, NAME=VALUE (repeatable); SERVICE:NAME=VALUE for one service only")
	fs.StringArrayVar(&s.platforms, "platform", nil,
		"take only the flows of this client platform (repeatable; default every platform)")
}

func (s *selectFlags) selection() resolve.Selection {
	return resolve.Selection{Features: s.features, Without: s.without, AllFeatures: s.allFeatures, Params: s.params, Platforms: s.platforms}
}

// choose loads the named services and applies the selection flags.
func (g *globals) choose(args []string, s *selectFlags) ([]*resolve.Choice, error) {
	svcs, err := g.services(args)
	if err != nil {
		return nil, err
	}
	return resolve.Choose(svcs, s.selection())
}

// serviceArgs completes service names.
func (g *globals) serviceArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	c, err := g.open()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return append(c.Slugs(), "all"), cobra.ShellCompDirectiveNoFileComp
}
