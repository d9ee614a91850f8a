package exporter

import (
	"bufio"
	"bytes"

	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/peers"
)

// newTestExporter writes config to a file and starts an exporter on it.
func newTestExporter(t testing.TB, config string, opt Options) (*Exporter, *httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(string(labToken)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opt.ConfigFile = filepath.Join(dir, "exporter.yml")
	if err := os.WriteFile(opt.ConfigFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return e, srv, opt.ConfigFile
}

// get fetches url and returns the status and body.
func get(t testing.TB, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sample returns the value of the series written exactly as series in
// Prometheus text, and whether it is there.
func sample(text, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := sc.Text()
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// sum adds every series of a family whose labels contain all of match.
func sum(text, family string, match ...string) float64 {
	total := 0.0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, family+"{") && !strings.HasPrefix(l, family+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(l, m)
		}
		if i := strings.LastIndexByte(l, ' '); ok && i > 0 {
			v, _ := strconv.ParseFloat(l[i+1:], 64)
			total += v
		}
	}
	return total
}

const offlineConfig = `modules:
  dns:
    checks: [dns]
    no_resolve: true
  starleaf-only:
    checks: [dns]
    no_resolve: true
    services: [starleaf]
    params: {company: acme}
`

// TestProbeBadInput: each bad request is answered 400 (405 for a wrong
// method) with a message saying what to write, and starts no run.
func TestProbeBadInput(t *testing.T) {
	_, srv, _ := newTestExporter(t, offlineConfig, Options{})
	for _, tc := range []struct {
		name, query string
		header      []string
		code        int
		want        string
	}{
		{"no service", "module=dns", nil, 400, "give service=SERVICE and module=MODULE (modules: dns, starleaf-only)"},
		{"no module", "service=starleaf", nil, 400, "give service=SERVICE and module=MODULE"},
		{"unknown module", "service=starleaf&module=rtp", nil, 400, `unknown module "rtp"; the config has dns, starleaf-only`},
		{"unknown service", "service=skype&module=dns", nil, 400, `unknown service "skype"; the catalog has starleaf`},
		{"service outside the module", "service=pexip&module=starleaf-only", nil, 400, "module starleaf-only probes only starleaf, not pexip"},
		{"missing param", "service=starleaf&module=dns", nil, 400, "missing param company"},
		{"param without value", "service=starleaf&module=dns&param=company", nil, 400, `param="company": write param=NAME=VALUE`},
		{"bad param value", "service=tw-solutions&module=dns&param=nosuch=1", nil, 400, "module dns, service tw-solutions:"},
		{"unknown query key", "service=starleaf&module=dns&target=x", nil, 400, `unknown query parameter "target"`},
		{"service twice", "service=starleaf&service=pexip&module=dns", nil, 400, "service given 2 times"},
		{"bad debug", "service=tw-solutions&module=dns&debug=maybe", nil, 400, `debug="maybe": true or false`},
		{"bad query string", "service=%zz&module=dns", nil, 400, "bad query string"},
		{"bad timeout header", "service=tw-solutions&module=dns", []string{"X-Prometheus-Scrape-Timeout-Seconds", "soon"}, 400, `X-Prometheus-Scrape-Timeout-Seconds "soon"`},
		{"negative timeout header", "service=tw-solutions&module=dns", []string{"X-Prometheus-Scrape-Timeout-Seconds", "-1"}, 400, "seconds, above 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, srv.URL+"/probe?"+tc.query, tc.header...)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("%d %q, want %d %q", code, body, tc.code, tc.want)
			}
			if strings.Count(strings.TrimSpace(body), "\n") > 0 {
				t.Errorf("a message of more than one line: %q", body)
			}
		})
	}
	resp, err := http.Post(srv.URL+"/probe?service=tw-solutions&module=dns", "text/plain", nil)
	if err != nil || resp.StatusCode != 405 {
		t.Errorf("POST /probe: %v %v", resp.StatusCode, err)
	}
	_, m := get(t, srv.URL+"/metrics")
	if runs := sum(m, "portolan_exporter_probe_runs_total"); runs != 0 {
		t.Errorf("%g runs started by bad requests", runs)
	}
	if n := sum(m, "portolan_exporter_probe_requests_rejected_total"); n != 14 {
		t.Errorf("%g rejections counted, want 14", n)
	}
	if n, _ := sample(m, `portolan_exporter_probe_requests_rejected_total{reason="unknown_module"}`); n != 1 {
		t.Errorf("unknown_module counted %g times", n)
	}

	// A good request runs once, and its params reach the probe.
	code, body := get(t, srv.URL+"/probe?service=starleaf&module=dns&param=company=acme")
	if code != 200 || !strings.Contains(body, `portolan_check_success{check="dns",flow="tunnel-https,tunnel-udp",service="starleaf"} 0`) {
		t.Errorf("good request: %d\n%s", code, body)
	}
	code, body = get(t, srv.URL+"/probe?service=starleaf&module=dns&param=company=acme&debug=true")
	for _, want := range []string{"Logs for the probe:", "module dns, service starleaf: checks dns", "acme.call.sl", "Metrics that would have been returned:", `probe_success{service="starleaf"} 0`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("debug lacks %q: %d\n%s", want, code, body)
		}
	}
}

func TestTimeout(t *testing.T) {
	e := &Exporter{opt: Options{ScrapeOffset: DefaultScrapeOffset}}
	for _, tc := range []struct {
		header string
		module time.Duration
		want   time.Duration
	}{
		{"", 0, DefaultScrapeTimeout},
		{"", 7 * time.Second, 7 * time.Second},
		{"10", 0, 9500 * time.Millisecond},
		{"10", 4 * time.Second, 4 * time.Second},
		{"2.5", 0, 2 * time.Second},
		{"0.8", 0, 400 * time.Millisecond},
	} {
		r := httptest.NewRequest("GET", "/probe", nil)
		if tc.header != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tc.header)
		}
		got, err := e.timeout(r, &Module{ScrapeTimeout: tc.module})
		if err != nil || got != tc.want {
			t.Errorf("header %q module %s: %s %v, want %s", tc.header, tc.module, got, err, tc.want)
		}
	}
}

// TestReload: POST /-/reload takes a new config; a bad one keeps the old
// and says so in a metric and the answer.
func TestReload(t *testing.T) {
	var logb syncBuffer
	e, srv, file := newTestExporter(t, offlineConfig, Options{Log: newLogger(&logb)})
	reload := func() (int, string) {
		resp, err := http.Post(srv.URL+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(t, srv.URL+"/-/reload"); code != 405 {
		t.Errorf("GET /-/reload: %d", code)
	}
	os.WriteFile(file, []byte("modules:\n  dns:\n    checks: [dns]\n    rat: 5\n"), 0o600)
	code, body := reload()
	if code != 500 || !strings.Contains(body, `exporter.yml:4:5: module dns: unknown key "rat"`) {
		t.Errorf("bad reload: %d %q", code, body)
	}
	_, m := get(t, srv.URL+"/metrics")
	if v, ok := sample(m, "portolan_exporter_config_last_reload_successful"); !ok || v != 0 {
		t.Errorf("reload_successful %v %v after a bad reload", v, ok)
	}
	if !strings.Contains(logb.String(), "reload failed; keeping the config in use") {
		t.Errorf("log: %s", logb.String())
	}
	// The old config still serves.
	if code, _ := get(t, srv.URL+"/probe?service=starleaf&module=starleaf-only"); code != 200 {
		t.Errorf("old module after a bad reload: %d", code)
	}
	os.WriteFile(file, []byte("modules:\n  other:\n    checks: [dns]\n    no_resolve: true\n"), 0o600)
	if code, body := reload(); code != 200 || body != "config reloaded\n" {
		t.Errorf("good reload: %d %q", code, body)
	}
	if code, _ := get(t, srv.URL+"/probe?service=tw-solutions&module=other"); code != 200 {
		t.Errorf("new module: %d", code)
	}
	if code, _ := get(t, srv.URL+"/probe?service=starleaf&module=starleaf-only"); code != 400 {
		t.Errorf("removed module: %d", code)
	}
	_, m = get(t, srv.URL+"/metrics")
	if v, _ := sample(m, "portolan_exporter_config_last_reload_successful"); v != 1 {
		t.Errorf("reload_successful %v after a good reload", v)
	}
	if v, _ := sample(m, "portolan_exporter_config_modules"); v != 1 {
		t.Errorf("modules %v", v)
	}
	_ = e
}

// promtool runs promtool with args and stdin, failing the test when it
// exits non-zero.
func promtool(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	peers.Need(t, "promtool")
	cmd := exec.Command("promtool", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// syncBuffer is a buffer a logger and a test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FuzzProbeQuery: any query string and timeout header get 200 (a run)
// or 400 (none), never a panic or another status; a 400 says why in one
// line.
func FuzzProbeQuery(f *testing.F) {
	f.Add("service=starleaf&module=dns&param=company=acme", "10")
	f.Add("service=tw-solutions&module=starleaf-only&debug=1", "")
	f.Add("service=starleaf&module=dns&param=starleaf:company=a%00b&param==", "0.001")
	f.Add("module=dns&service=all", "NaN")
	f.Add("service=starleaf&module=dns&param=company=%C3%28", "1e309")
	_, srv, _ := newTestExporter(f, offlineConfig, Options{})
	f.Fuzz(func(t *testing.T, query, timeout string) {
		req, err := http.NewRequest("GET", srv.URL+"/probe", nil)
		if err != nil {
			return
		}
		req.URL.RawQuery = query
		if timeout != "" {
			req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
			if req.Header.Get("X-Prometheus-Scrape-Timeout-Seconds") != timeout {
				return
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return // a request the client itself refuses to send
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
		case 400:
			if strings.Count(strings.TrimSpace(string(b)), "\n") > 0 {
				t.Errorf("400 of more than one line: %q", b)
			}
		default:
			t.Errorf("%q: %d %s", query, resp.StatusCode, b)
		}
	})
}
