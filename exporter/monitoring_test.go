package exporter

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/testenv"
)

// exportedNames are the metric families the exporter writes: those of
// /probe and its own.
func exportedNames(t *testing.T) []string {
	var names []string
	for n := range newProbeMetrics().fam {
		names = append(names, n)
	}
	e, _, _ := newTestExporter(t, offlineConfig, Options{})
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	// Series Prometheus itself makes.
	return append(names, "ALERTS", "up")
}

// metricRefs finds the portolan and probe metric names an expression or
// a file refers to.
var metricRefs = regexp.MustCompile(`\b(?:portolan_[a-z_]+|probe_[a-z_]+)\b`)

// TestRules: promtool accepts the shipped rules and proves them on the
// series the exporter writes (portolan.rules.test.yml); the rule test is
// one that fails when a rule loses its condition; every metric the rules
// and the rule test name is one the exporter writes.
func TestRules(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(t), "monitoring")
	rules := filepath.Join(dir, "portolan.rules.yml")
	tests := filepath.Join(dir, "portolan.rules.test.yml")
	if out := promtool(t, "", "check", "rules", rules); !strings.Contains(out, "SUCCESS: 6 rules found") {
		t.Errorf("promtool check rules: %s", out)
	}
	promtool(t, "", "test", "rules", tests)

	// Without its "required" condition the flow alert would also fire on
	// the recommended flow of the test: promtool test rules must say so.
	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	broken := strings.Replace(string(b), "portolan_check_success == 0 and portolan_check_required == 1", "portolan_check_success == 0", 1)
	if broken == string(b) {
		t.Fatal("the flow alert's expression changed; update this test")
	}
	os.WriteFile(filepath.Join(tmp, "portolan.rules.yml"), []byte(broken), 0o644)
	tb, _ := os.ReadFile(tests)
	os.WriteFile(filepath.Join(tmp, "portolan.rules.test.yml"), tb, 0o644)
	if out, err := exec.Command("promtool", "test", "rules", filepath.Join(tmp, "portolan.rules.test.yml")).CombinedOutput(); err == nil {
		t.Errorf("promtool test rules passes a flow alert that ignores required:\n%s", out)
	}

	names := exportedNames(t)
	for _, f := range []string{rules, tests} {
		b, _ := os.ReadFile(f)
		for _, n := range metricRefs.FindAllString(string(b), -1) {
			if !slices.Contains(names, n) {
				t.Errorf("%s names %s, which the exporter does not write", filepath.Base(f), n)
			}
		}
	}
}

// TestDashboard: the Grafana dashboard is well-formed JSON with a
// datasource variable, unique panel ids and refIds, panels inside the
// 24-column grid that do not overlap, and queries of metrics the exporter
// writes (TestPrometheusScrapesLab runs every query on a real Prometheus).
func TestDashboard(t *testing.T) {
	d := readDashboard(t, filepath.Join(testenv.RepoRoot(t), "monitoring", "grafana-dashboard.json"))
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard %q uid %q with %d panels", d.Title, d.UID, len(d.Panels))
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	if !slices.Equal(vars, []string{"datasource", "job", "instance", "service"}) {
		t.Errorf("variables %v", vars)
	}
	names := exportedNames(t)
	ids := map[int]bool{}
	cells := map[[2]int]int{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q outside the grid: %+v", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := cells[[2]int{x, y}]; ok {
					t.Errorf("panel %d overlaps panel %d at %d,%d", p.ID, other, x, y)
				}
				cells[[2]int{x, y}] = p.ID
			}
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] || tg.RefID == "" {
				t.Errorf("panel %q: refId %q", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			found := metricRefs.FindAllString(tg.Expr, -1)
			if len(found) == 0 {
				t.Errorf("panel %q: %s names no metric of the exporter", p.Title, tg.Expr)
			}
			for _, n := range found {
				if !slices.Contains(names, n) {
					t.Errorf("panel %q: %s is not written by the exporter", p.Title, n)
				}
			}
		}
	}
}
