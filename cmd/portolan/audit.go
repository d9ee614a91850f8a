package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/hostsrc"
	"github.com/portolan/portolan/internal/atomicfile"
	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/report"
	"github.com/portolan/portolan/target"
)

func init() { extraCommands = append(extraCommands, newAuditCmd) }

// maxRuleset bounds what audit reads (a 100,000-rule nft JSON dump is
// about 40 MB).
const maxRuleset = 1 << 30

// auditFlags are audit's flags: what to take in, for which site and how
// names resolve, read as rules reads them (planFlags), and the ruleset to
// check.
type auditFlags struct {
	plan    planFlags
	ruleset []string
	format  string
	wanAddr []string
	output  string
	outFile string
}

func newAuditCmd(g *globals) *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit SERVICE... --ruleset FILE|-|DIR [--ruleset FILE]...",
		Short: "Check an existing firewall ruleset against what services need",
		Long: `Read the ruleset a firewall runs — the JSON of "nft -j list ruleset", or the
text of iptables-save / ip6tables-save (filter and nat tables, raw, mangle and
security too) — and say, for every flow the services need, which part of its
packets the ruleset accepts and which it drops.

--ruleset may be given several times for one firewall: the nft JSON and the
iptables-save output of the tables iptables-nft writes (nft -j prints their
matches without arguments; each table is read from iptables-save then),
iptables-save and ip6tables-save apart, and "ipset save" output, which fills
in the sets of -m set matches. A directory is read as a firewalld
configuration (/etc/firewalld: zones, services, policies, ipsets, rich
rules), over the stock one in /usr/lib/firewalld when it is there.
` + platformReaders() + `
Every flow is followed as the kernel would: the first packet (ct state new),
the first reply and the packets after it (ct state established), through
the base chains of each hook in priority order, NAT chains at the NAT
priority, jump, goto, return and policies; several tables on one hook pass a
packet only if none drops it. A gateway's inbound flows must be forwarded
(DNAT) to their local address, and the forward chain then sees the
translated destination.

Per flow the verdict is allowed, partial, blocked or unknown. For each part
that does not pass: the addresses and ports, the deciding rule (nft handle,
or the iptables-save line and text) and a witness packet. Rules that would
match the flow but never see it, because an earlier rule decided, are listed
as shadowed. A match portolan does not understand (an xt extension, a rate
limit, a mark) is never guessed: the packets it could decide are followed
both ways, and where the ways differ the verdict is unknown, naming the rule.

Which flows and what they mean as packets is the same reading "portolan
rules" compiles: --mode, --lan-if, --wan-if, --lan, features and params as
there. Names are resolved through --hosts, then DNS; pin them with --hosts
for a reproducible audit.

The services' constraints a ruleset shows are audited too: alg-off (no
conntrack helper attached to their SIP or H.323 flows) and nat-timeout (no
ct timeout policy shorter than the minimum on their flows); the others (TLS
version, SSL inspection, proxy) are listed with the probe that checks them.

Exit codes: 0 every required flow is allowed and no constraint fails; 1 some
required flow is partial, blocked or unknown, or a constraint fails; 2 a
usage error or an unreadable ruleset.`,
		Example: `  nft -j list ruleset > ruleset.json
  portolan audit starleaf --param company=acme --ruleset ruleset.json --lan-if lan0 --wan-if wan0 --lan 192.0.2.0/24

  iptables-save | portolan audit pexip --ruleset - --feature sbc --param sbc_address=192.0.2.20 ...

  # iptables-nft tables (Docker, ufw…) beside the nft JSON, with Docker's ipsets
  portolan audit starleaf --param company=acme --ruleset ruleset.json \
    --ruleset iptables.save --ruleset ipsets.save ...

  # host mode, pinned names, JSON for scripts
  portolan audit starface --mode host --param pbx_address=192.0.2.10 --ruleset ruleset.json \
    --hosts pins.txt --output json | jq '.flows[] | select(.verdict != "allowed")'`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: g.serviceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(cmd, g, &f, args)
		},
	}
	fs := cmd.Flags()
	p := &f.plan
	p.sel.register(fs)
	fs.StringArrayVar(&f.ruleset, "ruleset", nil, `the ruleset to check: a file, - for stdin, or a firewalld configuration directory such as /etc/firewalld (required; repeat for nft JSON beside iptables-save, ip6tables-save, ipset save)`)
	fs.StringVar(&f.format, "format", "auto", "the ruleset's syntax: "+strings.Join(audit.Formats(), ", ")+" (auto detects it)")
	fs.StringVar(&p.mode, "mode", "gateway", "gateway (the forward path of a router, port forwards as DNAT) or host (input and output of the machine itself)")
	fs.StringVar(&p.lanIf, "lan-if", "", "gateway: the router's interface towards the LAN (default: any)")
	fs.StringVar(&p.wanIf, "wan-if", "", "gateway: the router's interface towards the internet (default: any)")
	fs.StringSliceVar(&p.lan, "lan", nil, "the site's networks, CIDR, comma-separated or repeated: the source of outbound flows in gateway mode, what \"lan\" means in host mode")
	fs.StringSliceVar(&f.wanAddr, "wan-addr", nil, "gateway: the address(es) inbound flows arrive at before DNAT (default: any)")
	fs.StringVar(&p.alternatives, "alternatives", "preferred", "one-of groups (StarLeaf's UDP ports): check the preferred port, or all")
	fs.BoolVar(&p.requiredOnly, "required-only", false, "leave recommended flows out")
	fs.BoolVar(&p.optional, "optional", false, "take optional flows in (they are left out by default)")
	fs.StringVar(&p.hosts, "hosts", "", "pin names to addresses from a hosts(5) file, asked before DNS")
	fs.StringArrayVar(&p.dns, "dns", nil, "DNS server HOST:PORT to ask (repeatable; default: /etc/resolv.conf's)")
	fs.BoolVar(&p.noResolve, "no-resolve", false, "ask no DNS: names not pinned by --hosts stay without addresses and are not checked")
	fs.StringVar(&p.sourceCache, "source-cache", "", "where host sets' published lists (feed:) are cached; the last good copy stands in when a fetch fails (default $XDG_CACHE_HOME/portolan/sources)")
	fs.StringVar(&f.output, "output", report.Table, "table or json")
	fs.StringVarP(&f.outFile, "output-file", "o", "", "write the report to FILE (atomically) instead of stdout")
	return cmd
}

// platformReaders is the paragraph of the audit's help on the appliance
// configurations it reads, one line per registered reader.
func platformReaders() string {
	rs := ruleset.Readers()
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nAppliance configurations are read alone (one --ruleset), each with its own\nplatform's semantics, its DNS-name objects resolved like the catalog's names\n(--hosts first):\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "  --format %-10s %s\n", r.Format, r.Describe)
	}
	return b.String()
}

func readRuleset(name string, stdin io.Reader) ([]byte, error) {
	data, err := safeio.ReadFile(name, maxRuleset, stdin)
	if err != nil {
		return nil, fmt.Errorf("--ruleset: %v", err)
	}
	return data, nil
}

func runAudit(cmd *cobra.Command, g *globals, f *auditFlags, args []string) error {
	if err := report.CheckFormat(f.output, report.Table, report.JSON); err != nil {
		return err
	}
	if len(f.ruleset) == 0 {
		return fmt.Errorf("--ruleset FILE (or - for stdin) is required: the output of nft -j list ruleset or iptables-save")
	}
	stdin := 0
	for _, n := range f.ruleset {
		if n == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return fmt.Errorf("--ruleset -: stdin can be read once only")
	}
	if err := audit.CheckFormat(f.format); err != nil {
		return err
	}
	site, err := f.plan.site()
	if err != nil {
		return err
	}
	opt, err := f.plan.options()
	if err != nil {
		return err
	}
	var wan []netip.Addr
	for _, w := range f.wanAddr {
		a, err := netip.ParseAddr(strings.TrimSpace(w))
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("--wan-addr %q: not an address", w)
		}
		wan = append(wan, a.Unmap()) // ::ffff:192.0.2.1 is 192.0.2.1
	}
	// Read and parse the ruleset first: a bad file fails before any DNS.
	var inputs []audit.Input
	var rs *ruleset.Ruleset
	if fi, err := os.Stat(f.ruleset[0]); err == nil && fi.IsDir() && len(f.ruleset) == 1 {
		// a firewalld configuration directory (/etc/firewalld)
		if rs, err = audit.LoadDir(f.ruleset[0]); err != nil {
			return fmt.Errorf("--ruleset: %v", err)
		}
	}
	for _, name := range f.ruleset {
		if rs != nil {
			break
		}
		data, err := readRuleset(name, cmd.InOrStdin())
		if err != nil {
			return err
		}
		if name == "-" {
			name = "stdin"
		}
		inputs = append(inputs, audit.Input{Name: name, Data: data})
	}
	name := strings.Join(f.ruleset, ", ")
	if rs == nil {
		if rs, err = audit.LoadAll(inputs, f.format); err != nil {
			return err
		}
		// The files read and the parsers' scratch are garbage now: collect
		// them before compiling, whose sets would otherwise pile onto them
		// (for 100k rules of iptables-save, 14 MB less at the peak of
		// compiling).
		inputs = nil
		runtime.GC()
	}
	choices, err := g.choose(args, &f.plan.sel)
	if err != nil {
		return err
	}
	r, _, err := f.plan.resolver(true, false)
	if err != nil {
		return err
	}
	// Names in the configuration's address objects (FortiGate fqdn, ASA
	// fqdn…) are resolved like the catalog's: --hosts first.
	audit.ResolveNames(context.Background(), rs, r)
	aud, err := audit.NewDropping(rs, site)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	// The reading's garbage (the terms, the compiler's scratch) goes now,
	// at the one moment it is all garbage: the collector then paces the
	// evaluation by what the compiled ruleset holds, not by twice the
	// parsed one (for 100k rules, a peak of tens of MB less).
	runtime.GC()
	// Host sets fed by published lists (feed:) are fetched as rules
	// fetches them; one that cannot be had is checked without its list.
	warns, err := hostsrc.Fill(context.Background(), choices, hostsrc.Options{CacheDir: f.plan.sourceCache}, true)
	for _, m := range warns {
		warn(cmd.ErrOrStderr(), "warning: %s", m)
	}
	if err != nil {
		return err
	}
	in, err := target.Prepare(context.Background(), target.Config{
		Choices: choices, Resolver: r, AllowUnresolved: true, Site: site, Options: opt,
	})
	if err != nil {
		return err
	}
	rep := aud.Audit(in.Rules, in.Skips, audit.Options{WANAddrs: wan, Constraints: in.Constraints})
	write := func(w io.Writer) error {
		if f.output == report.JSON {
			return report.WriteJSON(w, rep)
		}
		// The table quotes rules, whose text (comments) may carry escapes.
		return terminalTable(func(w io.Writer) error { return audit.WriteTable(w, rep) })(w)
	}
	if f.outFile != "" {
		err = atomicfile.Write(f.outFile, 0o644, write)
	} else {
		err = write(cmd.OutOrStdout())
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		n, bad := 0, 0
		for _, s := range rep.Services {
			n += s.Required
			bad += len(s.Failing)
		}
		fails := 0
		for _, c := range rep.Constraints {
			if c.Status == audit.ConstraintFail {
				fails++
			}
		}
		switch {
		case bad == 0:
			return failed(fmt.Sprintf("%d of %d constraints audited fail", fails, len(rep.Constraints)))
		case fails > 0:
			return failed(fmt.Sprintf("%d of %d required flows are not allowed; %d of %d constraints audited fail", bad, n, fails, len(rep.Constraints)))
		}
		return failed(fmt.Sprintf("%d of %d required flows are not allowed", bad, n))
	}
	return nil
}
