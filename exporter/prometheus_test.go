package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/peers"
	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/probe/probetest"
)

// buildPortolan builds the command for a test that runs it in a namespace.
func buildPortolan(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "portolan")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/portolan").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	return bin
}

// promAPI asks a Prometheus inside a namespace.
type promAPI struct {
	t    testing.TB
	base string
	c    *http.Client
}

type promResult struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant PromQL query and returns its vector; an error
// answer (a query that does not parse) fails the test.
func (p *promAPI) query(q string) []promResult {
	p.t.Helper()
	rs, err := p.try(q)
	if err != nil {
		p.t.Fatal(err)
	}
	return rs
}

// try runs an instant query.
func (p *promAPI) try(q string) ([]promResult, error) {
	resp, err := p.c.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, fmt.Errorf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s: %v %s %s", q, resp.Status, err, body.Status, body.Error)
	}
	var out []promResult
	if body.Data.ResultType == "vector" {
		json.Unmarshal(body.Data.Result, &out)
	}
	return out, nil
}

// value is the single value of q, and whether there is exactly one.
func (p *promAPI) value(q string) (string, bool) {
	rs := p.query(q)
	if len(rs) != 1 {
		return "", false
	}
	s, _ := rs[0].Value[1].(string)
	return s, true
}

// waitFor polls q until its single value is want.
func (p *promAPI) waitFor(q, want string, within time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		if rs, err := p.try(q); err != nil {
			last = err.Error()
		} else if len(rs) == 1 {
			last, _ = rs[0].Value[1].(string)
			if last == want {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	p.t.Fatalf("%s: %q after %s, want %s", q, last, within, want)
}

// TestPrometheusScrapesLab: a real Prometheus scrapes the real exporter
// in the LAN of a lab whose router drops two ports of TW Solutions' RTP
// range and runs the kernel's SIP ALG. Its query API shows probe_success
// 0, the blocked ports and the ALG, the shipped alert rules load and go
// pending on them, and every query of the shipped dashboard runs; after
// the router is fixed, probe_success is 1. A second job measures a NAT
// binding against the minimum of a test profile: below it, alert pending;
// the router's UDP timeout raised, above it. SIGHUP reloads the exporter's
// config, a bad one is kept out and reported.
func TestPrometheusScrapesLab(t *testing.T) {
	peers.Need(t, "prometheus", "promtool")
	l := netlab.New(t)
	if err := l.Router.Nft(labRouter("10100-10101", true)); err != nil {
		t.Fatal(err)
	}
	labReflector(t, l)
	bin := buildPortolan(t)
	root := testenv.RepoRoot(t)

	dir := peers.Dir(t, "portolan-exporter-")
	peers.WriteFile(t, dir, "token", append(labToken, '\n'))
	os.Chmod(filepath.Join(dir, "token"), 0o600)
	const exporterConfig = `modules:
  rtp:
    checks: [udp, sip-alg]
    reflector: 198.51.100.10:7478
    token_file: token
    rate: 20000
    timeout: 300ms
  nat:
    checks: [nat-timeout]
    services: [natlab]
    reflector: 198.51.100.10:7478
    token_file: token
`
	cfgFile := peers.WriteFile(t, dir, "exporter.yml", []byte(exporterConfig))
	// The router forgets UDP bindings after 2 s; natlab asks for 3 s.
	if err := l.Router.Sysctl("net.netfilter.nf_conntrack_udp_timeout", "2"); err != nil {
		t.Fatal(err)
	}
	catDir, _ := filepath.Abs(filepath.Join("testdata", "catalog"))
	exp := peers.Start(t, l.LAN, dir, "", bin, "--catalog", catDir, "exporter", "--config", cfgFile, "--listen", "127.0.0.1:9478", "--log-level", "debug")
	exp.WaitTCP(t, "127.0.0.1:9478")

	pdir := peers.Dir(t, "portolan-prometheus-")
	// The scrape config of the README: targets SERVICE@EXPORTER.
	promConfig := fmt.Sprintf(`global:
  scrape_interval: 4s
  scrape_timeout: 4s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: portolan
    metrics_path: /probe
    params:
      module: [rtp]
    static_configs:
      - targets: ['tw-solutions@127.0.0.1:9478']
    relabel_configs:
      - source_labels: [__address__]
        regex: '(.+)@(.+)'
        target_label: __param_service
      - source_labels: [__address__]
        target_label: instance
      - source_labels: [__address__]
        regex: '(.+)@(.+)'
        replacement: '$2'
        target_label: __address__
  - job_name: portolan-nat
    metrics_path: /probe
    params:
      module: [nat]
    scrape_interval: 6s
    scrape_timeout: 6s
    static_configs:
      - targets: ['natlab@127.0.0.1:9478']
    relabel_configs:
      - source_labels: [__address__]
        regex: '(.+)@(.+)'
        target_label: __param_service
      - source_labels: [__address__]
        target_label: instance
      - source_labels: [__address__]
        regex: '(.+)@(.+)'
        replacement: '$2'
        target_label: __address__
  - job_name: portolan-exporter
    static_configs:
      - targets: ['127.0.0.1:9478']
`, filepath.Join(root, "monitoring", "portolan.rules.yml"))
	pcfg := peers.WriteFile(t, pdir, "prometheus.yml", []byte(promConfig))
	promtool(t, "", "check", "config", pcfg)
	prom := peers.Start(t, l.LAN, pdir, "", "prometheus", "--config.file", pcfg,
		"--storage.tsdb.path", filepath.Join(pdir, "data"), "--web.listen-address", "127.0.0.1:9090")
	prom.WaitTCP(t, "127.0.0.1:9090")
	lan := probetest.Network{NS: l.LAN}
	api := &promAPI{t: t, base: "http://127.0.0.1:9090", c: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return lan.DialContext(ctx, network, addr)
		},
	}}}

	sel := `{job="portolan",instance="tw-solutions@127.0.0.1:9478",service="tw-solutions"`
	// Wait for a run that went through (a run refused or cut short on a
	// loaded machine also says probe_success 0, without the flows).
	api.waitFor(`portolan_udp_ports`+sel+`,flow="rtp",state="blocked"}`, "2", 45*time.Second)
	// The exporter's own metrics come from a job of their own, scraped on
	// its own schedule.
	api.waitFor(`portolan_exporter_config_last_reload_successful{job="portolan-exporter"}`, "1", 20*time.Second)
	for _, tc := range []struct{ q, want string }{
		{`probe_success` + sel + `}`, "0"},
		{`up{job="portolan"}`, "1"},
		{`portolan_udp_ports` + sel + `,flow="rtp",state="blocked"}`, "2"},
		{`portolan_udp_ports` + sel + `,flow="rtp",state="open"}`, "199"},
		{`portolan_udp_blocked_range` + sel + `,flow="rtp"}`, "2"},
		{`portolan_sip_alg_detected` + sel + `}`, "1"},
		{`portolan_check_success` + sel + `,flow="rtp",check="udp"}`, "0"},
		{`portolan_check_success` + sel + `,flow="sip",check="udp"}`, "1"},
		{`portolan_sip_alg_rewritten` + sel + `,where="Via"}`, "1"},
		{`portolan_sip_alg_rewritten` + sel + `,where="SDP c="}`, "1"},
	} {
		if v, ok := api.value(tc.q); !ok || v != tc.want {
			t.Errorf("%s = %q, want %s", tc.q, v, tc.want)
		}
	}
	if rs := api.query(`portolan_udp_blocked_range` + sel + `}`); len(rs) != 1 || rs[0].Metric["range"] != "10100-10101" {
		t.Errorf("blocked ranges: %+v", rs)
	}

	// The shipped rules are loaded and healthy; the ALG and the failing
	// RTP flow make their alerts pending (they fire after their for:).
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, State string
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	resp, err := api.c.Get(api.base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&rules)
	resp.Body.Close()
	var names []string
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Name)
			if r.Health != "ok" && r.Health != "unknown" {
				t.Errorf("rule %s: health %s", r.Name, r.Health)
			}
		}
	}
	if !slices.Contains(names, "PortolanSIPALGDetected") || len(names) != 6 {
		t.Errorf("rules loaded: %v", names)
	}
	api.waitFor(`count(ALERTS{alertname="PortolanSIPALGDetected",alertstate="pending",service="tw-solutions"})`, "1", 20*time.Second)
	api.waitFor(`count(ALERTS{alertname="PortolanRequiredFlowFailing",alertstate="pending",flow="rtp"})`, "1", 20*time.Second)

	// The NAT binding: gone after the 3 s natlab asks for; the minimum is
	// the catalog's; the alert goes pending.
	nat := `{job="portolan-nat",service="natlab",constraint="nat-short"}`
	api.waitFor(`portolan_nat_binding_expired_seconds`+nat, "3", 30*time.Second)
	for _, tc := range []struct{ q, want string }{
		{`portolan_nat_binding_min_seconds` + nat, "3"},
		{`portolan_nat_binding_seconds` + nat, "0"},
		{`probe_success{job="portolan-nat"}`, "0"},
	} {
		if v, ok := api.value(tc.q); !ok || v != tc.want {
			t.Errorf("%s = %q, want %s", tc.q, v, tc.want)
		}
	}
	api.waitFor(`count(ALERTS{alertname="PortolanNATBindingBelowMinimum",alertstate="pending",service="natlab"})`, "1", 20*time.Second)

	// Every query of the dashboard parses and runs; those of the panels
	// about what this lab shows return series.
	dash := readDashboard(t, filepath.Join(root, "monitoring", "grafana-dashboard.json"))
	vars := strings.NewReplacer("$job", ".*", "$instance", ".*", "$service", ".*")
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			rs := api.query(vars.Replace(tg.Expr))
			switch p.Title {
			case "Probe success", "SIP ALG", "NAT binding lifetime against the document's minimum", "Blocked UDP ports", "Failing checks", "Blocked UDP ranges", "UDP ports by state":
				if len(rs) == 0 {
					t.Errorf("dashboard panel %q: %s returns nothing", p.Title, tg.Expr)
				}
			}
		}
	}

	// Fix the router: NAT only, no drop, no SIP helper.
	if _, err := l.Router.Run("nft", "flush", "ruleset"); err != nil {
		t.Fatal(err)
	}
	if err := l.Router.Nft(labRouter("", false)); err != nil {
		t.Fatal(err)
	}
	if err := l.Router.Sysctl("net.netfilter.nf_conntrack_udp_timeout", "30"); err != nil {
		t.Fatal(err)
	}
	api.waitFor(`probe_success`+sel+`}`, "1", 30*time.Second)
	api.waitFor(`probe_success{job="portolan-nat"}`, "1", 30*time.Second)
	if rs := api.query(`portolan_nat_binding_expired_seconds` + nat); len(rs) != 0 {
		t.Errorf("a binding expired after the fix: %+v", rs)
	}
	if v, ok := api.value(`portolan_nat_binding_seconds` + nat); !ok || v != "3" {
		t.Errorf("binding lived %q after the fix, want 3", v)
	}
	for _, tc := range []struct{ q, want string }{
		{`portolan_udp_ports` + sel + `,flow="rtp",state="blocked"}`, "0"},
		{`portolan_sip_alg_detected` + sel + `}`, "0"},
	} {
		if v, ok := api.value(tc.q); !ok || v != tc.want {
			t.Errorf("after the fix: %s = %q, want %s", tc.q, v, tc.want)
		}
	}

	// SIGHUP: a bad config is refused and reported, a good one taken.
	reloadOK := func() string {
		v, _ := exporterMetric(t, lan, "portolan_exporter_config_last_reload_successful")
		return v
	}
	os.WriteFile(cfgFile, []byte(exporterConfig+"    rat: 5\n"), 0o644)
	exp.Cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, func() bool { return reloadOK() == "0" })
	os.WriteFile(cfgFile, []byte(exporterConfig+"  dns:\n    checks: [dns]\n    no_resolve: true\n"), 0o644)
	exp.Cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, func() bool { return reloadOK() == "1" })
	if v, _ := exporterMetric(t, lan, "portolan_exporter_config_modules"); v != "3" {
		t.Errorf("modules after SIGHUP: %s, want rtp, nat and dns", v)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	if !strings.Contains(string(out), `msg="reload failed; keeping the config in use"`) || !strings.Contains(string(out), `unknown key \"rat\"`) {
		t.Errorf("the exporter's log lacks the failed reload:\n%s", out)
	}
}

// exporterMetric reads one series of the exporter's own /metrics.
func exporterMetric(t testing.TB, lan probetest.Network, series string) (string, bool) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return lan.DialContext(ctx, network, addr)
		},
	}}
	resp, err := c.Get("http://127.0.0.1:9478/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

func waitUntil(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("not within 10 s")
}

// dashboard is what the tests read of the Grafana dashboard.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Type    string `json:"type"`
		GridPos struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t testing.TB, path string) *dashboard {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &d
}
