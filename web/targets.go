package web

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/portolan/portolan/hostsrc"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"

	// Every platform registers itself (and its reader), as in the CLI.
	_ "github.com/portolan/portolan/target/asa"
	_ "github.com/portolan/portolan/target/aws"
	_ "github.com/portolan/portolan/target/cilium"
	_ "github.com/portolan/portolan/target/domains"
	_ "github.com/portolan/portolan/target/firewalld"
	_ "github.com/portolan/portolan/target/fortigate"
	_ "github.com/portolan/portolan/target/iptables"
	_ "github.com/portolan/portolan/target/kubernetes"
	_ "github.com/portolan/portolan/target/nftables"
	_ "github.com/portolan/portolan/target/opnsense"
	_ "github.com/portolan/portolan/target/pfsense"
	_ "github.com/portolan/portolan/target/routeros"
	_ "github.com/portolan/portolan/target/squid"
	_ "github.com/portolan/portolan/target/ufw"
	_ "github.com/portolan/portolan/target/windows"
)

// A target's own flags (firewalld's --zone, kubernetes' --selector) live in
// the target's variables, as the CLI's flag parsing sets them: targetMu
// serialises every use of a target that has flags, from setting them to
// writing.
var targetMu sync.Mutex

// flagInfo is one of a target's own flags, for the form.
type flagInfo struct {
	Target, Name, Usage, Default string
	Bool                         bool
}

var (
	flagOnce  sync.Once
	flagCache map[string][]flagInfo
)

// flagsOf returns t's own flags, read once.
func flagsOf(t target.Target) []flagInfo {
	flagOnce.Do(func() {
		targetMu.Lock()
		defer targetMu.Unlock()
		flagCache = map[string][]flagInfo{}
		for _, t := range target.All() {
			f, ok := t.(target.Flagger)
			if !ok {
				continue
			}
			fs := pflag.NewFlagSet(t.Name(), pflag.ContinueOnError)
			f.Flags(fs)
			fs.VisitAll(func(fl *pflag.Flag) {
				flagCache[t.Name()] = append(flagCache[t.Name()], flagInfo{
					Target: t.Name(), Name: fl.Name, Usage: fl.Usage, Default: fl.DefValue, Bool: fl.Value.Type() == "bool",
				})
			})
		}
	})
	return flagCache[t.Name()]
}

// allTargetFlags lists every target's flags, sorted by target.
func allTargetFlags() []flagInfo {
	var out []flagInfo
	for _, t := range target.All() {
		out = append(out, flagsOf(t)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// extensions name a download after its platform's usual file.
var extensions = map[string]string{
	"nftables": ".nft", "iptables": ".rules", "ip6tables": ".rules", "squid": ".conf",
	"domains": ".txt", "firewalld": ".sh", "ufw": ".sh", "windows": ".ps1",
	"aws": ".tf", "kubernetes": ".yaml", "cilium": ".yaml",
}

func extension(tname string) string {
	if e, ok := extensions[tname]; ok {
		return e
	}
	return ".txt"
}

// rulesOut is a target's output for a form.
type rulesOut struct {
	Target string
	Data   []byte
	Notes  []string
	Stats  string
	// Command is the "portolan rules" command line that writes the same.
	Command string
}

// writeRules does what "portolan rules" does for one target: the target's
// flags from the form, its site check, target.Prepare with the server's
// resolver, then Write.
func (s *Server) writeRules(ctx context.Context, choices []*resolve.Choice, p plan, tname string, tflags map[string]string, command, sync string) (*rulesOut, error) {
	t, err := target.Lookup(tname)
	if err != nil {
		return nil, bad(fTarget, "%v", err)
	}
	if f, ok := t.(target.Flagger); ok {
		targetMu.Lock()
		defer targetMu.Unlock()
		fs := pflag.NewFlagSet(t.Name(), pflag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		f.Flags(fs) // every flag back to its default
		for name, val := range tflags {
			if err := fs.Set(name, val); err != nil {
				return nil, bad(fTFlag+name, "--%s %q: %v", name, val, err)
			}
		}
	} else if len(tflags) > 0 {
		return nil, fmt.Errorf("--target %s has no flags of its own", tname)
	}
	if sc, ok := t.(target.SiteChecker); ok {
		if err := sc.CheckSite(p.Site, p.Options); err != nil {
			return nil, err
		}
	}
	var r resolve.Resolver = resolve.NoResolve{}
	info := "kept as names; the platform resolves them"
	if t.Resolves() {
		r, info = s.opt.Resolver, s.opt.ResolverInfo
		if t.Name() == "nftables" && s.opt.SyncResolverInfo != "" {
			info = s.opt.SyncResolverInfo
		}
	}
	// Host sets fed by published lists, fetched as portolan rules does;
	// what cannot be had stays out, with the warning in the output's notes.
	if _, err := hostsrc.Fill(ctx, choices, hostsrc.Options{CacheDir: s.opt.SourceCache}, s.opt.NoResolve || !t.Resolves()); err != nil {
		return nil, err
	}
	in, err := target.Prepare(ctx, target.Config{
		Choices: choices, Resolver: r, AllowUnresolved: s.opt.NoResolve || !t.Resolves(),
		Site: p.Site, Options: p.Options,
		Generated: time.Now().UTC(), Version: s.opt.Version, Command: command, Sync: sync, ResolverInfo: info,
	})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	res, err := t.Write(&buf, in)
	if err != nil {
		return nil, err
	}
	return &rulesOut{Target: t.Name(), Data: buf.Bytes(), Notes: res.Notes, Stats: fmt.Sprint(res.Stats), Command: command}, nil
}
