// Package target is what every firewall platform shares: the input a
// generator gets (the policy's rules and skips, the constraints, the site,
// the resolved names) and the small interface it implements. Each platform
// lives in a folder of its own below target/ and registers itself; adding
// a platform is adding a folder.
//
// Packet semantics come only from policy.Plan: a target decides how to
// write a rule, never which packets it accepts.
package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// Target writes one platform's configuration.
type Target interface {
	// Name is what --target takes: "nftables", "squid"…
	Name() string
	// Synopsis says in a few words what the output is, for --help.
	Synopsis() string
	// Resolves reports whether the target needs names turned into
	// addresses; a proxy allow-list keeps names as names.
	Resolves() bool
	// Write writes the configuration for in.
	Write(w io.Writer, in *Input) (Result, error)
}

// Flagger is a Target with flags of its own (firewalld's --zone,
// kubernetes' --selector). Flags adds them to fs; the target keeps their
// values in its own variables and reads them when it writes. A flag of one
// target given with another --target is a usage error.
type Flagger interface {
	Flags(fs *pflag.FlagSet)
}

// SiteChecker is a Target that cannot write every site (the host-only
// targets: Windows, AWS, Kubernetes, Cilium). rules asks it before any name
// is resolved, so that a site it cannot express is a usage error at once,
// not after DNS.
type SiteChecker interface {
	CheckSite(site policy.Site, opt Options) error
}

// File is one file of a configuration tree: Path is relative and
// slash-separated ("services/portolan-starface.xml").
type File struct {
	Path string
	Data []byte
}

// TreeWriter is a Target whose configuration is a tree of files
// (firewalld's services/, zones/, ipsets/). With -o DIR, rules writes the
// files under DIR, each one atomically, after every one has been made;
// without -o, Write prints the equivalent commands.
type TreeWriter interface {
	WriteTree(in *Input) ([]File, Result, error)
}

// Result is what a target reports besides its output.
type Result struct {
	Stats Stats
	// Notes are lines for stderr: what the output leaves out or cannot
	// say, and why. The output carries them as comments too.
	Notes []string
}

// Stats counts what an output holds, for `rules --stats`.
type Stats struct {
	Rules    int // rules that accept or forward (DNAT) packets, or allow-list lines
	DNAT     int // of which port forwards
	Sets     int // named address sets
	Elements int // elements of the named sets (addresses, prefixes, ranges)
	PortSets int // anonymous port sets and multiport lists
	Ports    int // elements of those (ports and ranges)
	Names    int // DNS names and wildcard domains (allow-lists)
}

func (s Stats) String() string {
	var parts []string
	parts = append(parts, fmt.Sprintf("%d rules", s.Rules))
	if s.DNAT > 0 {
		parts[0] += fmt.Sprintf(" (%d port forwards)", s.DNAT)
	}
	switch {
	case s.Sets > 0:
		parts = append(parts, fmt.Sprintf("%d named sets with %d elements", s.Sets, s.Elements))
	case s.Elements > 0:
		parts = append(parts, fmt.Sprintf("%d address entries", s.Elements))
	}
	if s.PortSets > 0 {
		parts = append(parts, fmt.Sprintf("%d port lists with %d ports and ranges", s.PortSets, s.Ports))
	}
	if s.Names > 0 {
		parts = append(parts, fmt.Sprintf("%d names", s.Names))
	}
	return strings.Join(parts, ", ")
}

var (
	regMu    sync.Mutex
	registry = map[string]Target{}
)

// Register makes a target available by its name; platforms call it from
// init. A second target of the same name panics: that is a programming
// error, found at start.
func Register(t Target) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[t.Name()]; dup {
		panic("target: " + t.Name() + " registered twice")
	}
	registry[t.Name()] = t
}

// Lookup returns the target called name.
func Lookup(name string) (Target, error) {
	regMu.Lock()
	defer regMu.Unlock()
	if t, ok := registry[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("--target %q: one of %s", name, strings.Join(namesLocked(), ", "))
}

// Names lists the registered targets, sorted.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// All returns the registered targets, sorted by name.
func All() []Target {
	var out []Target
	for _, n := range Names() {
		t, _ := Lookup(n)
		out = append(out, t)
	}
	return out
}

// Options are the choices of flows (policy.Options) and of the output's
// shape.
type Options struct {
	policy.Options
	// ChainOnly writes chains to jump to from an existing ruleset: no
	// policy, no hooks.
	ChainOnly bool
	// Table is the nftables table that --chain-only writes into, as
	// "FAMILY NAME" ("inet filter"); nftables jumps only within a table.
	Table string
}

// Input is everything a target needs.
type Input struct {
	Choices []*resolve.Choice
	// Flows are the concrete flows the options take in; Excluded those
	// they leave out (with no names resolved).
	Flows    []resolve.Concrete
	Excluded []policy.Skip
	// Rules and Skips are policy.Plan's reading of Flows for Site.
	Rules       []policy.Rule
	Skips       []policy.Skip
	Warnings    []resolve.Warning
	Constraints []resolve.Constraint
	Site        policy.Site
	Options     Options

	// Generated is when the output was made; Version the program's.
	Generated time.Time
	Version   string
	// Command is the command line that made the output, and Sync the one
	// that refreshes its names; both only for comments.
	Command string
	Sync    string
	// Resolver says where names' addresses came from.
	Resolver string
}

// Choice returns the choice of the service slug, or nil.
func (in *Input) Choice(slug string) *resolve.Choice {
	for _, c := range in.Choices {
		if c.Service.Slug() == slug {
			return c
		}
	}
	return nil
}

// Config is what Prepare needs.
type Config struct {
	Choices  []*resolve.Choice
	Resolver resolve.Resolver
	// AllowUnresolved keeps names without an address as warnings (their
	// sets stay empty until portolan sync fills them) instead of an error.
	AllowUnresolved bool
	Site            policy.Site
	Options         Options

	Generated time.Time
	Version   string
	Command   string
	Sync      string
	// ResolverInfo says where names' addresses come from, for comments.
	ResolverInfo string
}

// LANWidened is the warning for flows to or from "lan" in host mode
// without --lan.
const LANWidened = `"lan" is any address: --lan is not given, so these rules accept the LAN's flows from any source and to any destination; pass --lan with the site's networks`

// UnresolvedError lists names that had no address, by flow.
type UnresolvedError struct {
	Names []string // "acme.call.sl (starleaf/tunnel-https, …: no address (DNS …))"
}

func (e *UnresolvedError) Error() string {
	what := fmt.Sprintf("%d names have", len(e.Names))
	if len(e.Names) == 1 {
		what = "1 name has"
	}
	return fmt.Sprintf("%s no address: %s; pin them with --hosts FILE, or pass --no-resolve to leave them out (nftables: empty sets that portolan sync fills later)",
		what, strings.Join(e.Names, "; "))
}

// Prepare expands the choices' flows (params must be set), resolves the
// names of the flows the options take in, and plans them for the site.
func Prepare(ctx context.Context, cfg Config) (*Input, error) {
	in := &Input{
		Choices: cfg.Choices, Site: cfg.Site, Options: cfg.Options,
		Generated: cfg.Generated, Version: cfg.Version, Command: cfg.Command, Sync: cfg.Sync,
		Resolver: cfg.ResolverInfo,
	}
	if err := ValidateSite(cfg.Site); err != nil {
		return nil, err
	}
	if cfg.Options.ChainOnly {
		if _, _, err := ParseTable(cfg.Options.Table); err != nil {
			return nil, err
		}
	}
	var taken, left []resolve.Flow
	var reasons []string
	for _, c := range cfg.Choices {
		flows, err := c.Flows(true)
		if err != nil {
			return nil, err
		}
		for _, f := range flows {
			// Excludes reads only the necessity: a concrete flow without
			// addresses is enough to ask it.
			probe := resolve.Concrete{Flow: f}
			if r := cfg.Options.Excludes(&probe); r != "" {
				left = append(left, f)
				reasons = append(reasons, r)
				continue
			}
			taken = append(taken, f)
		}
		in.Constraints = append(in.Constraints, c.Constraints()...)
	}
	r := cfg.Resolver
	if r == nil {
		r = resolve.NoResolve{}
	}
	con, warns, err := resolve.Concretize(ctx, taken, r)
	if err != nil {
		return nil, err
	}
	if !cfg.AllowUnresolved {
		if err := unresolved(con, warns); err != nil {
			return nil, err
		}
	}
	in.Flows, in.Warnings = con, warns
	ex, _, err := resolve.Concretize(ctx, left, resolve.NoResolve{})
	if err != nil {
		return nil, err
	}
	for i := range ex {
		in.Excluded = append(in.Excluded, policy.Skip{Flow: &ex[i], Reason: reasons[i]})
	}
	in.Rules, in.Skips, err = policy.Plan(in.Flows, cfg.Site, cfg.Options.Options)
	if err != nil {
		return nil, err
	}
	// Host mode without --lan: "lan" can only mean any address, which
	// widens those flows to every source (inbound) or destination.
	if cfg.Site.Mode == policy.Host && len(cfg.Site.LAN) == 0 {
		for _, f := range in.Flows {
			if f.LAN && !f.Any {
				in.Warnings = append(in.Warnings, resolve.Warning{Service: f.Service, Flow: f.ID, Msg: LANWidened})
			}
		}
	}
	for _, c := range policy.ForwardConflicts(in.Rules) {
		in.Warnings = append(in.Warnings, resolve.Warning{Service: c.Second.Flow.Service, Flow: c.Second.Flow.ID, Msg: c.String()})
	}
	return in, nil
}

func unresolved(con []resolve.Concrete, warns []resolve.Warning) error {
	var order []string
	flows := map[string][]string{}
	why := map[string]string{}
	for _, c := range con {
		for _, n := range c.Unresolved {
			if _, ok := flows[n]; !ok {
				order = append(order, n)
			}
			flows[n] = append(flows[n], c.Service+"/"+c.ID)
			if why[n] == "" {
				why[n] = whyUnresolved(warns, n)
			}
		}
	}
	if len(order) == 0 {
		return nil
	}
	e := &UnresolvedError{}
	for _, n := range order {
		e.Names = append(e.Names, fmt.Sprintf("%s (%s: %s)", n, strings.Join(flows[n], ", "), why[n]))
	}
	return e
}

// whyUnresolved says why name has no address, from the resolver's
// warnings: "no address (hosts file pins); not resolved (DNS …: NXDOMAIN)".
func whyUnresolved(warns []resolve.Warning, name string) string {
	for _, w := range warns {
		if strings.HasPrefix(w.Msg, name+":") {
			var parts []string
			for _, l := range strings.Split(w.Msg, "\n") {
				parts = append(parts, strings.TrimPrefix(OneLine(l), name+": "))
			}
			return strings.Join(parts, "; ")
		}
	}
	return ""
}

// WhyUnresolved says why a name of the input has no address (NXDOMAIN, a
// timeout, --no-resolve), as the resolver said it; "" when it does not
// know.
func (in *Input) WhyUnresolved(name string) string { return whyUnresolved(in.Warnings, name) }

// IsUnresolved reports whether err is an *UnresolvedError.
func IsUnresolved(err error) bool {
	var u *UnresolvedError
	return errors.As(err, &u)
}

// ParseTable splits --table "FAMILY NAME" and checks both.
func ParseTable(s string) (family, name string, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return "", "", fmt.Errorf("--table %q: write FAMILY NAME, e.g. \"inet filter\"", s)
	}
	switch f[0] {
	case "inet", "ip", "ip6":
	default:
		return "", "", fmt.Errorf("--table %q: family %q: inet, ip or ip6", s, f[0])
	}
	if !ValidIdent(f[1]) {
		return "", "", fmt.Errorf("--table %q: %q is not a table name (letters, digits, _ and -, starting with a letter)", s, f[1])
	}
	return f[0], f[1], nil
}

// ValidIdent reports whether s is a safe identifier for a table, chain or
// set: a letter, then letters, digits, "_" and "-", at most 64 bytes.
func ValidIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// ValidateSite checks a site as policy does, and that its interface
// names are ones an output can carry as they are.
func ValidateSite(s policy.Site) error {
	for _, v := range []struct{ flag, val string }{{"--lan-if", s.LANIf}, {"--wan-if", s.WANIf}} {
		if v.val != "" && !ValidIfName(v.val) {
			return fmt.Errorf("%s %q: not an interface name (letters, digits, _ - ., at most 15)", v.flag, v.val)
		}
	}
	return s.Validate()
}

// ValidIfName reports whether s can name a network interface (IFNAMSIZ).
func ValidIfName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '-' || c == '.':
		default:
			return false
		}
	}
	return true
}

// IsOutbound reports whether the rule's flow is started from the site.
func IsOutbound(r *policy.Rule) bool { return r.Flow.Direction == model.Outbound }
