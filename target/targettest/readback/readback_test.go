package readback_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/target/firewalld"
	"github.com/portolan/portolan/target/targettest"
	"github.com/portolan/portolan/target/targettest/readback"
)

// recorder keeps what Probes reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// TestProbesCatchMoreAndLess: the firewalld tree of StarLeaf's plan passes;
// without its accepting rules, the plan's ports are found refused; with an
// accept-all rule first, the neighbours are found passing.
func TestProbesCatchMoreAndLess(t *testing.T) {
	lab := targettest.LabCatalog(t)
	in, _ := targettest.GatewayCases[0].Input(t, lab)
	tg := &firewalld.Target{Zone: "public", LANZone: "internal", WANZone: "external"}
	files, _, err := tg.WriteTree(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The lab's interfaces in the gateway's zones, as the tree's header asks.
	for zone, ifname := range map[string]string{"internal": in.Site.LANIf, "external": in.Site.WANIf} {
		data, err := os.ReadFile(filepath.Join(firewalld.DefaultConfig, "zones", zone+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		x := strings.Replace(string(data), "</zone>", `<interface name="`+ifname+`"/></zone>`, 1)
		if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "zones", zone+".xml"), []byte(x), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load := func() *ruleset.Ruleset {
		rs, err := audit.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	if rec := (&recorder{TB: t}); readback.Probes(rec, load(), in) == 0 || len(rec.errs) > 0 {
		t.Fatalf("the tree as written: %v", rec.errs)
	}
	for _, tc := range []struct {
		name   string
		change func(rs *ruleset.Ruleset)
	}{
		{"accepts removed", func(rs *ruleset.Ruleset) {
			for _, c := range rs.Chains {
				var keep []*ruleset.Rule
				for _, r := range c.Rules {
					if r.Verdict.Kind != ruleset.Accept || len(r.Terms) < 3 {
						keep = append(keep, r)
					}
				}
				c.Rules = keep
			}
		}},
		{"accept all first", func(rs *ruleset.Ruleset) {
			for _, c := range rs.Chains {
				if c.Base && c.Hook == "forward" {
					c.Rules = append([]*ruleset.Rule{{Chain: c, Verdict: ruleset.Verdict{Kind: ruleset.Accept}}}, c.Rules...)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := load()
			tc.change(rs)
			rec := &recorder{TB: t}
			readback.Probes(rec, rs, in)
			if len(rec.errs) == 0 {
				t.Error("no probe disagrees with the plan")
			}
			t.Logf("%d disagreements, first: %s", len(rec.errs), rec.errs[0])
		})
	}
}
