package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/portolan/portolan/hostsrc"
	"github.com/portolan/portolan/internal/atomicfile"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"

	// The platforms register themselves.
	_ "github.com/portolan/portolan/target/domains"
	_ "github.com/portolan/portolan/target/iptables"
	_ "github.com/portolan/portolan/target/nftables"
	_ "github.com/portolan/portolan/target/squid"
)

func init() { extraCommands = append(extraCommands, newRulesCmd) }

// planFlags are the flags rules and sync share: what to take in, for
// which site, and how names resolve.
type planFlags struct {
	sel          selectFlags
	mode         string
	lanIf, wanIf string
	lan          []string
	alternatives string
	requiredOnly bool
	optional     bool
	hosts        string
	dns          []string
	noResolve    bool
	// keepUnresolved makes names without an address warnings (sync keeps
	// their sets as they are) instead of an error.
	keepUnresolved bool
	chainOnly      bool
	table          string
	// sourceCache is where host set feeds are cached; warnw takes the
	// feeds' warnings (stderr when nil).
	sourceCache string
	warnw       io.Writer
}

func (f *planFlags) register(fs *pflag.FlagSet) {
	f.sel.register(fs)
	fs.StringVar(&f.mode, "mode", "gateway", "gateway (the forward path of a router, port forwards as DNAT) or host (input and output of the machine itself)")
	fs.StringVar(&f.lanIf, "lan-if", "", "gateway: the router's interface towards the LAN (default: any)")
	fs.StringVar(&f.wanIf, "wan-if", "", "gateway: the router's interface towards the internet (default: any)")
	fs.StringSliceVar(&f.lan, "lan", nil, "the site's networks, CIDR, comma-separated or repeated: the source of outbound flows in gateway mode, what \"lan\" means in host mode")
	fs.StringVar(&f.alternatives, "alternatives", "preferred", "one-of groups (StarLeaf's UDP ports): open the preferred port, or all")
	fs.BoolVar(&f.requiredOnly, "required-only", false, "leave recommended flows out")
	fs.BoolVar(&f.optional, "optional", false, "take optional flows in (they are left out by default)")
	fs.StringVar(&f.hosts, "hosts", "", "pin names to addresses from a hosts(5) file, asked before DNS (air-gapped generation, tests)")
	fs.StringArrayVar(&f.dns, "dns", nil, "DNS server HOST:PORT to ask (repeatable; default: /etc/resolv.conf's)")
	fs.BoolVar(&f.chainOnly, "chain-only", false, "write chains to jump to from your own ruleset: no policy, no hooks")
	fs.StringVar(&f.table, "table", "inet filter", "nftables --chain-only: the table (FAMILY NAME) that holds your chains; nftables jumps only within a table")
	fs.StringVar(&f.sourceCache, "source-cache", "", "where host sets' published lists (feed:) are cached, the last good copy used when a fetch fails (default $XDG_CACHE_HOME/portolan/sources)")
}

func (f *planFlags) site() (policy.Site, error) {
	s := policy.Site{Mode: policy.Mode(f.mode), LANIf: f.lanIf, WANIf: f.wanIf}
	for _, l := range f.lan {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		p, err := netip.ParsePrefix(l)
		if err != nil {
			a, aerr := netip.ParseAddr(l)
			if aerr != nil || a.Zone() != "" {
				return s, fmt.Errorf("--lan %q: not a CIDR block such as 192.0.2.0/24", l)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		s.LAN = append(s.LAN, model.UnmapPrefix(p)) // ::ffff:192.0.2.0/120 is 192.0.2.0/24
	}
	return s, target.ValidateSite(s)
}

func (f *planFlags) options() (target.Options, error) {
	o := target.Options{ChainOnly: f.chainOnly, Table: f.table}
	o.RequiredOnly, o.Optional = f.requiredOnly, f.optional
	switch f.alternatives {
	case "preferred":
	case "all":
		o.AllAlternatives = true
	default:
		return o, fmt.Errorf("--alternatives %q: preferred or all", f.alternatives)
	}
	if f.requiredOnly && f.optional {
		return o, fmt.Errorf("--required-only and --optional exclude each other")
	}
	return o, nil
}

// resolver builds the chain of resolvers the flags ask for and says in
// words what it is. syncs says whether the target keeps names in sets that
// portolan sync fills (nftables); other targets leave an unresolved name out.
func (f *planFlags) resolver(needsAddrs, syncs bool) (resolve.Resolver, string, error) {
	if !needsAddrs {
		return resolve.NoResolve{}, "kept as names; the platform resolves them", nil
	}
	unresolved := "names without an address are left out (a note says which)"
	if syncs {
		unresolved = "the names' sets are empty until portolan sync fills them"
	}
	var chain resolve.Chain
	var info []string
	if f.hosts != "" {
		h, err := resolve.LoadHosts(f.hosts)
		if err != nil {
			return nil, "", fmt.Errorf("--hosts: %v", err)
		}
		chain = append(chain, h)
		info = append(info, "hosts file "+f.hosts)
	}
	if f.noResolve {
		if len(info) == 0 {
			return resolve.NoResolve{}, "not resolved (--no-resolve): " + unresolved, nil
		}
		return chain, strings.Join(info, "") + " only (--no-resolve): other " + strings.TrimPrefix(unresolved, "the "), nil
	}
	d, err := resolve.NewDNS(f.dns...)
	if err != nil {
		return nil, "", err
	}
	chain = append(chain, d)
	info = append(info, "DNS ("+strings.Join(d.Servers, ", ")+")")
	return chain, strings.Join(info, ", then "), nil
}

// prepare loads the services and plans them.
func (f *planFlags) prepare(ctx context.Context, g *globals, args []string, t target.Target, command, syncCmd string) (*target.Input, error) {
	site, err := f.site()
	if err != nil {
		return nil, err
	}
	opt, err := f.options()
	if err != nil {
		return nil, err
	}
	if sc, ok := t.(target.SiteChecker); ok {
		if err := sc.CheckSite(site, opt); err != nil {
			return nil, err
		}
	}
	choices, err := g.choose(args, &f.sel)
	if err != nil {
		return nil, err
	}
	r, info, err := f.resolver(t.Resolves(), t.Name() == "nftables")
	if err != nil {
		return nil, err
	}
	allow := f.noResolve || f.keepUnresolved || !t.Resolves()
	warns, err := hostsrc.Fill(ctx, choices, hostsrc.Options{CacheDir: f.sourceCache}, allow)
	w := f.warnw
	if w == nil {
		w = os.Stderr
	}
	for _, m := range warns {
		warn(w, "warning: %s", m)
	}
	if err != nil {
		return nil, err
	}
	return target.Prepare(ctx, target.Config{
		Choices: choices, Resolver: r, AllowUnresolved: allow,
		Site: site, Options: opt,
		Generated: time.Now().UTC(), Version: version, Command: command, Sync: syncCmd, ResolverInfo: info,
	})
}

// pathFlags are the flags whose values are files or directories: a
// command line in a comment gives them absolute, so that it runs as
// written from cron, whatever the working directory.
var pathFlags = map[string]bool{"catalog": true, "hosts": true, "output-file": true, "output": true, "source-cache": true}

// flagValue is v as a command line in a comment gives it: absolute for a
// path flag (but "-", stdin or stdout), shell-quoted.
func flagValue(name, v string) string {
	if pathFlags[name] && v != "" && v != "-" {
		if abs, err := filepath.Abs(v); err == nil {
			v = abs
		}
	}
	return shellQuote(v)
}

// commandLine writes the command as the user gave it, for comments: the
// name, the args, then the flags that were set (without those in skip),
// paths made absolute.
func commandLine(cmd *cobra.Command, name string, args []string, skip ...string) string {
	parts := []string{"portolan"}
	if g := cmd.Root().PersistentFlags().Lookup("catalog"); g != nil && g.Changed {
		parts = append(parts, "--catalog", flagValue("catalog", g.Value.String()))
	}
	parts = append(parts, name)
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	var flags []string
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		for _, s := range skip {
			if fl.Name == s {
				return
			}
		}
		if fl.Name == "catalog" {
			return
		}
		if fl.Value.Type() == "bool" {
			flags = append(flags, "--"+fl.Name)
			return
		}
		vals := []string{fl.Value.String()}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		}
		for _, v := range vals {
			flags = append(flags, "--"+fl.Name+" "+flagValue(fl.Name, v))
		}
	})
	return strings.Join(append(parts, flags...), " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeOutput writes data to path atomically, or to w when path is "" or "-".
func writeOutput(w io.Writer, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := w.Write(data)
		return err
	}
	return atomicfile.Write(path, 0o644, func(fw io.Writer) error {
		_, err := fw.Write(data)
		return err
	})
}

// writeTree writes a target's files under dir (created if missing), each
// one atomically. The paths come from the target; one that is absolute or
// climbs out of dir is refused before anything is written.
func writeTree(dir, tname string, files []target.File) error {
	for _, f := range files {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return fmt.Errorf("-o %s: the target made a file outside it: %q (this is a bug)", dir, f.Path)
		}
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("-o %s: not a directory; --target %s writes a tree of files", dir, tname)
	}
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("-o %s: %v", dir, err)
		}
		if err := writeOutput(nil, path, f.Data); err != nil {
			return err
		}
	}
	return nil
}

// registerTargetFlags adds every target's own flags to fs and returns which
// target each flag belongs to.
func registerTargetFlags(fs *pflag.FlagSet) map[string]string {
	owners := map[string]string{}
	for _, t := range target.All() {
		f, ok := t.(target.Flagger)
		if !ok {
			continue
		}
		own := pflag.NewFlagSet(t.Name(), pflag.ContinueOnError)
		f.Flags(own)
		own.VisitAll(func(fl *pflag.Flag) {
			if prev := fs.Lookup(fl.Name); prev != nil {
				// Two targets share the flag (kubernetes and cilium's
				// --selector): it belongs to both. A common flag stays common.
				if owners[fl.Name] != "" {
					owners[fl.Name] += "," + t.Name()
					prev.Usage = strings.Replace(prev.Usage, ") ", ", "+t.Name()+") ", 1)
				}
				return
			}
			fl.Usage = fmt.Sprintf("(--target %s) %s", t.Name(), fl.Usage)
			fs.AddFlag(fl)
			owners[fl.Name] = t.Name()
		})
	}
	return owners
}

// checkTargetFlags refuses a target's own flag given with another target.
func checkTargetFlags(cmd *cobra.Command, owners map[string]string, tname string) error {
	var err error
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if owner, ok := owners[fl.Name]; ok && !slices.Contains(strings.Split(owner, ","), tname) && err == nil {
			err = fmt.Errorf("--%s is a flag of --target %s, not of %s", fl.Name, strings.ReplaceAll(owner, ",", " and "), tname)
		}
	})
	return err
}

func targetList() string {
	var b strings.Builder
	for _, t := range target.All() {
		fmt.Fprintf(&b, "  %-10s %s\n", t.Name(), t.Synopsis())
	}
	return strings.TrimRight(b.String(), "\n")
}

func newRulesCmd(g *globals) *cobra.Command {
	var (
		pf     planFlags
		tname  string
		output string
		stats  bool
		owners map[string]string // target flags → their target
	)
	cmd := &cobra.Command{
		Use:   "rules SERVICE... | all",
		Short: "Write firewall configuration that loads as it is (nftables, iptables, FortiGate, pfSense, OPNsense, RouterOS, ASA, firewalld, ufw, Windows, AWS, Kubernetes, squid…)",
		Long: `Write the firewall configuration the services need, for one platform:

` + targetList() + `

What goes in: required flows always, recommended ones unless --required-only,
optional ones only with --optional. A one-of group (StarLeaf's UDP ports)
opens its preferred port unless --alternatives all. Features and params as in
"portolan show"; a param a flow needs and nobody set is an error.

Where: --mode gateway (default) writes the forward path of a router between
the LAN (--lan-if, --lan) and the internet (--wan-if): outbound flows from the
LAN to the vendor's hosts, inbound flows as port forwards (DNAT) to the
address a param names (STARFACE pbx_address, Pexip sbc_address) plus the
matching accept, replies by conntrack state. --mode host writes the input and
output of the endpoint or PBX itself. IPv4 and IPv6 both, from the same flows.

By default the output is a standalone policy for its hooks: drop what is not
accepted, accept replies (ct state established,related), loopback and the
ICMPv6 a host needs, then the flows. --chain-only writes chains to jump to
from your own ruleset instead (nftables: into --table, since nftables jumps
only within a table). nftables output lives in table inet portolan and
replaces itself whole in one transaction; iptables output lives in chains
PORTOLAN-* for iptables-restore --noflush (the header of the output says how
it hooks in and replaces itself). Every rule has a comment with service, flow
and the line of the vendor's document it comes from; constraints that are not
ports (SIP ALG, NAT timeout, TLS, SSL inspection, proxy auth) become comments
with what to do on that platform, or, for the 90 s NAT binding on nftables, a
ct timeout object on those flows.

Names: resolved now, through --hosts FILE first (hosts(5) format, pins names
for air-gapped generation and tests), then DNS, with the time and TTL in a
comment. nftables keeps them in named sets that "portolan sync" refreshes in
place. A name without an address is an error, unless --no-resolve, which
leaves the sets empty with a warning. Wildcard domains (*.librestream.com)
cannot be packet-filter rules: rules says so on stderr and in the output, and
--target squid or --target domains writes them.

Warnings and flows left out go to stderr, one line each; the output (stdout,
or -o FILE written atomically) stays loadable. --stats adds rule and element
counts on stderr.`,
		Example: `  # A router: LAN on eth1, internet on eth0; load it at once
  portolan rules starleaf --param company=acme --lan-if eth1 --wan-if eth0 \
    --lan 192.0.2.0/24,2001:db8:1::/64 -o /etc/nftables.d/portolan.nft
  nft -f /etc/nftables.d/portolan.nft

  # STARFACE scenario 1 (SIP trunk): port forwards to the PBX
  portolan rules starface --feature scenario-1 --param pbx_address=192.0.2.10 \
    --param sip_provider=198.51.100.0/24 --wan-if eth0 --lan-if eth1

  # iptables: IPv4 and IPv6 files, each replaces only portolan's chains
  portolan rules tw-solutions --target iptables | iptables-restore --noflush
  portolan rules tw-solutions --target ip6tables | ip6tables-restore --noflush

  # Chains for your own nftables table, names left for portolan sync
  portolan rules onsight --chain-only --table 'inet filter' --no-resolve

  # The web proxy's allow-list, and a plain domain list
  portolan rules onsight starleaf --param company=acme --target squid -o /etc/squid/conf.d/portolan.conf
  portolan rules onsight starleaf --all-features --param company=acme \
    --param custom_domains=onsight.example.com --target domains`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: g.serviceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := target.Lookup(tname)
			if err != nil {
				return err
			}
			if err := checkTargetFlags(cmd, owners, tname); err != nil {
				return err
			}
			command := commandLine(cmd, "rules", args)
			syncCmd := ""
			if tname == "nftables" {
				syncCmd = commandLine(cmd, "sync", args, "target", "output-file", "output", "stats", "no-resolve")
			}
			pf.warnw = cmd.ErrOrStderr()
			in, err := pf.prepare(cmd.Context(), g, args, t, command, syncCmd)
			if err != nil {
				return err
			}
			errw := cmd.ErrOrStderr()
			if tw, ok := t.(target.TreeWriter); ok && output != "" && output != "-" {
				files, res, err := tw.WriteTree(in)
				if err != nil {
					return err
				}
				for _, n := range res.Notes {
					warn(errw, "%s", n)
				}
				if err := writeTree(output, t.Name(), files); err != nil {
					return err
				}
				if stats {
					fmt.Fprintf(errw, "portolan: stats: %s: %s\n", t.Name(), res.Stats)
				}
				return nil
			}
			var buf bytes.Buffer
			res, err := t.Write(&buf, in)
			if err != nil {
				return err
			}
			for _, n := range res.Notes {
				warn(errw, "%s", n)
			}
			if err := writeOutput(cmd.OutOrStdout(), output, buf.Bytes()); err != nil {
				return err
			}
			if stats {
				fmt.Fprintf(errw, "portolan: stats: %s: %s\n", t.Name(), res.Stats)
			}
			return nil
		},
	}
	pf.register(cmd.Flags())
	owners = registerTargetFlags(cmd.Flags())
	cmd.Flags().StringVar(&tname, "target", "nftables", "the platform: "+strings.Join(target.Names(), ", "))
	cmd.Flags().BoolVar(&pf.noResolve, "no-resolve", false, "do not resolve names: a warning says which; nftables keeps their sets empty until portolan sync fills them, other targets leave them out")
	cmd.Flags().StringVarP(&output, "output-file", "o", "", "write to FILE (atomically) instead of stdout")
	cmd.Flags().BoolVar(&stats, "stats", false, "print rule and element counts on stderr")
	_ = cmd.RegisterFlagCompletionFunc("target", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return target.Names(), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}
