package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/nftables"
)

func init() { extraCommands = append(extraCommands, newSyncCmd) }

// runNft runs nft for sync; tests point it into a network namespace.
var runNft nftables.Runner = nftables.Exec

func newSyncCmd(g *globals) *cobra.Command {
	var (
		pf     planFlags
		dryRun bool
		output string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "sync SERVICE... | all",
		Short: "Refresh the addresses of DNS names in a loaded nftables ruleset, in place",
		Long: `Resolve the services' DNS names again and refresh the named sets of a
loaded "portolan rules" nftables ruleset: each set whose addresses changed is
flushed and filled again, all in one nft transaction. Rules, their handles and
their counters stay as they are; so do the addresses written in the profile.
Vendors say their addresses change: run it from cron or a systemd timer, at
least as often as the shortest TTL the ruleset's comments show.

Give it the same services and flags as the rules command (the ruleset's
header prints the exact sync command line): they decide which sets exist and
what they are called. --hosts pins names as it does for rules, then DNS.
Host sets fed by published lists (feed: in the profile) are fetched again
and refreshed the same way; when a list cannot be had, its last good cached
copy (--source-cache) stands in, and without one the set is kept as it is.

Safe by design: a set whose names do not resolve now keeps its addresses (a
DNS outage must not empty it), and a name that gained an address family the
ruleset serves but has no set for is reported, not guessed: run rules again.
Both make the exit code 1; the other sets are refreshed all the same. A
family the ruleset does not serve (IPv6 when --lan is IPv4 only) is no
problem: its addresses have nowhere to go.

--dry-run prints the nft script instead of loading it; -o FILE writes it.
iptables has no sets here (no ipset): regenerate with "portolan rules
--target iptables" and load with iptables-restore --noflush, which replaces
only portolan's chains, atomically.

Exit codes: 0 refreshed or already current; 1 some set could not be
refreshed; 2 usage error, no such table, or nft failed.`,
		Example: `  # after: portolan rules starleaf --param company=acme --lan-if eth1 --wan-if eth0 | nft -f -
  portolan sync starleaf --param company=acme --lan-if eth1 --wan-if eth0

  # every 5 minutes (the rules command's flags), quiet unless something fails
  */5 * * * * root portolan sync starleaf --param company=acme --lan-if eth1 --wan-if eth0 --quiet

  # look before loading
  portolan sync starleaf --param company=acme --dry-run`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: g.serviceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := target.Lookup("nftables")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pf.keepUnresolved = true
			pf.warnw = cmd.ErrOrStderr()
			in, err := pf.prepare(ctx, g, args, t, commandLine(cmd, "sync", args), "")
			if err != nil {
				return err
			}
			lay, err := nftables.LayoutOf(in.Options)
			if err != nil {
				return err
			}
			loaded, err := nftables.Loaded(ctx, runNft, lay)
			if errors.Is(err, nftables.ErrNoTable) {
				return fmt.Errorf("%v: load the ruleset first (portolan rules … | nft -f -)", err)
			}
			if err != nil {
				return err
			}
			plan, err := nftables.Sync(in, loaded)
			if err != nil {
				return err
			}
			errw := cmd.ErrOrStderr()
			say := func(format string, a ...any) {
				if !quiet {
					warn(errw, "sync: "+format, a...)
				}
			}
			if dryRun || output != "" {
				script := plan.Script
				if script == "" {
					script = "# nothing to change\n"
				}
				if err := writeOutput(cmd.OutOrStdout(), output, []byte(script)); err != nil {
					return err
				}
			} else if plan.Script != "" {
				if _, err := runNft(ctx, []byte(plan.Script), "-f", "-"); err != nil {
					return err
				}
			}
			// What changed is said once it has.
			changed := 0
			for _, c := range plan.Changes {
				if c.Changed() {
					changed++
					say("%s: %s (+%s -%s; %s)", c.Set, orNone(target.Elements(c.New)), orNone(c.Added()), orNone(c.Removed()), c.Resolved)
				}
			}
			verb := "changed"
			if dryRun || output != "" {
				verb = "would change"
			}
			say("%d sets with names, %d %s", len(plan.Changes), changed, verb)
			for _, p := range plan.Problems {
				warn(errw, "sync: %s", p)
			}
			if len(plan.Problems) > 0 {
				return failed(fmt.Sprintf("sync: %d sets not refreshed", len(plan.Problems)))
			}
			return nil
		},
	}
	pf.register(cmd.Flags())
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the nft script instead of loading it")
	cmd.Flags().StringVarP(&output, "output-file", "o", "", "write the nft script to FILE (atomically) instead of loading it")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "say nothing unless a set cannot be refreshed")
	return cmd
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, " ")
}
