package nftables_test

import (
	"context"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

// starleaf prepares StarLeaf for the lab, its names pinned by hosts.
func starleaf(t *testing.T, hosts string) *target.Input {
	t.Helper()
	return input(t, "starleaf", resolve.Selection{Params: []string{"company=acme"}}, hosts, targettest.Site, target.Options{})
}

var (
	handleRE  = regexp.MustCompile(`# handle ([0-9]+)$`)
	counterRE = regexp.MustCompile(`counter packets ([0-9]+) bytes ([0-9]+)`)
)

// ruleState maps each rule's handle to its text, counters included.
func ruleState(t testing.TB, ns *netlab.NS) map[string]string {
	t.Helper()
	out, err := ns.Run("nft", "-a", "list", "chain", "inet", "portolan", "forward")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if h := handleRE.FindStringSubmatch(line); h != nil && strings.Contains(line, "counter") {
			m[h[1]] = line
		}
	}
	return m
}

func runner(ns *netlab.NS) nftables.Runner {
	return func(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
		out, err := ns.RunInput(stdin, "nft", args...)
		return []byte(out), err
	}
}

// TestKernelSync loads StarLeaf's rules, passes traffic, lets the tunnel
// name move to another address, and syncs: the set changes, every rule
// keeps its handle and its counters, the new address is reachable and
// the old one no longer.
func TestKernelSync(t *testing.T) {
	before := "203.0.113.20 acme.call.sl\n2001:db8:3::20 acme.call.sl\n203.0.113.30 config.starleaf.com\n"
	after := "203.0.113.21 acme.call.sl\n203.0.113.30 config.starleaf.com\n2001:db8:3::30 config.starleaf.com\n"
	old := targettest.Probe{Proto: "tcp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("203.0.113.20:443"), Sink: netip.MustParseAddr("203.0.113.20")}
	moved := targettest.Probe{Proto: "tcp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("203.0.113.21:443"), Sink: netip.MustParseAddr("203.0.113.21")}
	l := netlab.New(t)
	rf := targettest.NewReferee(t, l, []targettest.Probe{old, moved})

	in := starleaf(t, before)
	if err := l.Router.Nft(generate(t, in)); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[targettest.Probe]bool{old: true, moved: false} {
		if got, err := rf.Send(p); got != want || err != nil {
			t.Fatalf("before sync: %s passed=%v (%v), want %v", p, got, err, want)
		}
	}
	state := ruleState(t, l.Router)
	if !strings.Contains(strings.Join(mapValues(state), "\n"), "counter packets 0") || len(state) < 3 {
		t.Fatalf("rules before sync:\n%s", strings.Join(mapValues(state), "\n"))
	}

	// The name moves; config.starleaf.com gains an IPv6 address, for which
	// the loaded ruleset has no set.
	in2 := starleaf(t, after)
	lay, _ := nftables.LayoutOf(in2.Options)
	loaded, err := nftables.Loaded(context.Background(), runner(l.Router), lay)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := nftables.Sync(in2, loaded)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sync script:\n%s", plan.Script)
	for _, line := range strings.Split(strings.TrimSpace(plan.Script), "\n") {
		if !strings.HasPrefix(line, "flush set inet portolan ") && !strings.HasPrefix(line, "add element inet portolan ") {
			t.Errorf("sync writes more than set elements: %s", line)
		}
	}
	if len(plan.Problems) != 1 || !strings.Contains(plan.Problems[0], "starleaf_config_v6 is not loaded") {
		t.Errorf("problems = %q, want the missing IPv6 set of config.starleaf.com", plan.Problems)
	}
	if err := l.Router.Nft(plan.Script); err != nil {
		t.Fatal(err)
	}
	if got := ruleState(t, l.Router); !equalMaps(got, state) {
		t.Errorf("sync touched rules:\nbefore\n%s\nafter\n%s", strings.Join(mapValues(state), "\n"), strings.Join(mapValues(got), "\n"))
	}
	set, err := l.Router.Run("nft", "list", "set", "inet", "portolan", "starleaf_tunnel_v4")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(set, "203.0.113.21") || strings.Contains(set, "203.0.113.20 ") {
		t.Errorf("tunnel set after sync:\n%s", set)
	}
	if v6, _ := l.Router.Run("nft", "list", "set", "inet", "portolan", "starleaf_tunnel_v6"); strings.Contains(v6, "2001:db8:3::20") {
		t.Errorf("the name lost its IPv6 address, the set kept it:\n%s", v6)
	}
	for p, want := range map[targettest.Probe]bool{old: false, moved: true} {
		if got, err := rf.Send(p); got != want || err != nil {
			t.Errorf("after sync: %s passed=%v (%v), want %v", p, got, err, want)
		}
	}
	// The traffic counts on the same rule, which was there all along.
	counted := false
	for h, line := range ruleState(t, l.Router) {
		if strings.Contains(line, "starleaf/tunnel-https") && strings.Contains(line, "@starleaf_tunnel_v4") {
			b := counterRE.FindStringSubmatch(state[h])
			a := counterRE.FindStringSubmatch(line)
			counted = b != nil && a != nil && atoi(a[1]) > atoi(b[1])
		}
	}
	if !counted {
		t.Error("the tunnel rule's counter did not grow after sync")
	}

	// Syncing again changes nothing; a name that no longer resolves keeps
	// its set.
	plan, err = nftables.Sync(in2, mustLoaded(t, l, lay))
	if err != nil || plan.Script != "" {
		t.Errorf("second sync: %v, script %q", err, plan.Script)
	}
	in3 := starleaf(t, "") // nothing resolves
	plan, err = nftables.Sync(in3, mustLoaded(t, l, lay))
	if err != nil {
		t.Fatal(err)
	}
	if plan.Script != "" || len(plan.Problems) == 0 {
		t.Errorf("with DNS down: script %q, problems %q; want no change and problems", plan.Script, plan.Problems)
	}
}

func mustLoaded(t testing.TB, l *netlab.Lab, lay nftables.Layout) map[string]*netipx.IPSet {
	t.Helper()
	m, err := nftables.Loaded(context.Background(), runner(l.Router), lay)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
