package exporter

import (
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/probe/probetest"
	"github.com/portolan/portolan/reflector"
)

var labToken = []byte("exporter-lab-token-0123")

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// labRouter is a small office's router: NAT to the WAN, the ports of
// drop dropped on the way out, and the kernel's SIP helper on 5060 when
// alg.
func labRouter(drop string, alg bool) string {
	s := `table ip nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
}
`
	if drop != "" {
		s += `table inet filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		udp dport { ` + drop + ` } drop
	}
}
`
	}
	if alg {
		s += `table ip sipalg {
	ct helper sip-5060 {
		type "sip" protocol udp;
	}
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		udp dport 5060 ct helper set "sip-5060"
	}
}
`
	}
	return s
}

// labReflector starts a reflector in the cloud on 198.51.100.10:7478,
// answering UDP 5060-5080 and 10000-10200.
func labReflector(t testing.TB, l *netlab.Lab) *reflector.Server {
	t.Helper()
	rs, err := model.ParsePortList("5060-5080,10000-10200")
	if err != nil {
		t.Fatal(err)
	}
	return probetest.Reflector(t, l.Cloud, reflector.Config{Listen: "198.51.100.10:7478", Token: labToken,
		Rate: 100000, Burst: 100000, UDPPorts: model.NewPortSet(rs...)})
}

const labConfig = `modules:
  rtp:
    checks: [udp, sip-alg]
    reflector: 198.51.100.10:7478
    token_file: token
    rate: 20000
    timeout: 300ms
  slow:
    checks: [udp]
    reflector: 198.51.100.10:7478
    token_file: token
    rate: 50
  shared:
    checks: [udp]
    reflector: 198.51.100.10:7478
    token_file: token
    rate: 300
    timeout: 200ms
    no_resolve: true
`

// TestProbeInLab: the exporter, in-process, probes from the LAN of a lab
// whose router drops two ports of TW Solutions' RTP range and runs the
// kernel's SIP ALG; its answer names both, and promtool accepts it. Then
// concurrent scrapes share one run, a run that needs more time than the
// scrape allows is not started, and two modules' runs share its rate.
func TestProbeInLab(t *testing.T) {
	l := netlab.New(t)
	if err := l.Router.Nft(labRouter("10100-10101", true)); err != nil {
		t.Fatal(err)
	}
	refl := labReflector(t, l)
	var logb syncBuffer
	_, srv, _ := newTestExporter(t, labConfig, Options{Net: probetest.Network{NS: l.LAN}, Log: newLogger(&logb)})
	url := srv.URL + "/probe?service=tw-solutions&module=rtp"

	code, body := get(t, url, "X-Prometheus-Scrape-Timeout-Seconds", "10")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	t.Logf("scrape:\n%s", body)
	for _, tc := range []struct {
		series string
		want   float64
	}{
		{`probe_success{service="tw-solutions"}`, 0},
		{`portolan_probe_refused{service="tw-solutions"}`, 0},
		{`portolan_check_success{check="udp",flow="rtp",service="tw-solutions"}`, 0},
		{`portolan_check_required{check="udp",flow="rtp",service="tw-solutions"}`, 1},
		{`portolan_check_success{check="udp",flow="sip",service="tw-solutions"}`, 1},
		{`portolan_udp_ports{flow="rtp",service="tw-solutions",state="blocked"}`, 2},
		{`portolan_udp_ports{flow="rtp",service="tw-solutions",state="open"}`, 199},
		{`portolan_udp_ports{flow="rtp",service="tw-solutions",state="not_probed"}`, 49800},
		{`portolan_udp_ports{flow="sip",service="tw-solutions",state="blocked"}`, 0},
		{`portolan_udp_blocked_range{flow="rtp",range="10100-10101",service="tw-solutions"}`, 2},
		{`portolan_sip_alg_detected{service="tw-solutions"}`, 1},
		{`portolan_sip_alg_rewritten{service="tw-solutions",where="Via"}`, 1},
		{`portolan_sip_alg_rewritten{service="tw-solutions",where="SDP c="}`, 1},
		{`portolan_check_success{check="sip-alg",flow="sip-alg-off",service="tw-solutions"}`, 0},
	} {
		if v, ok := sample(body, tc.series); !ok || v != tc.want {
			t.Errorf("%s = %v (present %v), want %v", tc.series, v, ok, tc.want)
		}
	}
	promtool(t, body, "check", "metrics")
	_, own := get(t, srv.URL+"/metrics")
	promtool(t, own, "check", "metrics")

	// Five concurrent scrapes of the same service and module: one run.
	_, before := get(t, srv.URL+"/metrics")
	var wg sync.WaitGroup
	bodies := make([]string, 5)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, bodies[i] = get(t, url, "X-Prometheus-Scrape-Timeout-Seconds", "10")
		}()
	}
	wg.Wait()
	_, after := get(t, srv.URL+"/metrics")
	runs := sum(after, "portolan_exporter_probe_runs_total", `module="rtp"`) - sum(before, "portolan_exporter_probe_runs_total", `module="rtp"`)
	reqs := sum(after, "portolan_exporter_probe_requests_total", `module="rtp"`) - sum(before, "portolan_exporter_probe_requests_total", `module="rtp"`)
	if runs != 1 || reqs != 5 {
		t.Errorf("5 concurrent scrapes: %g runs, %g requests; want 1 run", runs, reqs)
	}
	for _, b := range bodies {
		if v, ok := sample(b, `portolan_udp_ports{flow="rtp",service="tw-solutions",state="blocked"}`); !ok || v != 2 {
			t.Errorf("a shared scrape's answer: %s", b)
		}
	}

	// 222 ports at 50 per second need more than the 2 s the scrape
	// allows: the run is refused before any port is probed.
	sent := refl.Stats().Received
	code, body = get(t, srv.URL+"/probe?service=tw-solutions&module=slow&debug=true", "X-Prometheus-Scrape-Timeout-Seconds", "2")
	if code != 200 || !strings.Contains(body, `portolan_probe_refused{service="tw-solutions"} 1`) || !strings.Contains(body, `probe_success{service="tw-solutions"} 0`) ||
		!regexp.MustCompile(`refused: at rate 50/s the run needs about \d+s, more than the 1.5s the scrape allows`).MatchString(body) ||
		strings.Contains(body, "portolan_udp_ports") {
		t.Errorf("slow module: %d\n%s", code, body)
	}
	// Only the question of what the reflector serves was sent.
	if n := refl.Stats().Received - sent; n > 3 {
		t.Errorf("the refused run sent %d packets to the reflector", n)
	}

	// Two services probed at once by one module share its 300 packets per
	// second: what reaches the reflector fits that rate over the time both
	// took (a burst of 300/20 allowed).
	if _, err := l.Router.Run("nft", "flush", "ruleset"); err != nil {
		t.Fatal(err)
	}
	sent = refl.Stats().Received
	t0 := time.Now()
	var mu sync.Mutex
	got := map[string]string{}
	for _, q := range []string{"service=tw-solutions&module=shared", "service=starface&module=shared&param=pbx_address=192.0.2.10"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, b := get(t, srv.URL+"/probe?"+q, "X-Prometheus-Scrape-Timeout-Seconds", "20")
			mu.Lock()
			got[q] = b
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	n := refl.Stats().Received - sent
	limit := 15 + 300*elapsed.Seconds()
	t.Logf("two runs of module shared: %d packets in %s (at most %.0f at 300/s)", n, elapsed.Round(time.Millisecond), limit)
	if float64(n) > limit || n < 400 {
		t.Errorf("two runs sent %d packets in %s: more than 300 per second, or too few to tell", n, elapsed)
	}
	for q, b := range got {
		if v, _ := sample(b, `probe_success{service="`+strings.TrimPrefix(strings.Split(q, "&")[0], "service=")+`"}`); v != 1 {
			t.Errorf("%s after the flush:\n%s", q, b)
		}
	}
	if !strings.Contains(logb.String(), "probe run") {
		t.Errorf("no run logged at debug level: %s", logb.String())
	}
	_ = fmt.Sprint
}
