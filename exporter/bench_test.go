package exporter

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/probe/probetest"
	"github.com/portolan/portolan/reflector"
)

// BenchmarkScrape is the latency of one scrape of TW Solutions against a
// reflector on the loopback of a namespace of its own: a module without
// UDP ranges (the SIP ALG check, one INVITE), and modules whose UDP
// check covers 1,000 and 10,000 ports of the RTP range at 200,000 packets
// per second. Beside them, in the same run, what a user would otherwise
// do: run portolan probe (the command, as from cron) for the same checks.
//
//	go test ./exporter -run '^$' -bench Scrape -benchtime 10x
func BenchmarkScrape(b *testing.B) {
	l := netlab.New(b)
	rs, err := model.ParsePortList("5060-5080,10000-19999")
	if err != nil {
		b.Fatal(err)
	}
	probetest.Reflector(b, l.LAN, reflector.Config{Listen: "127.0.0.1:7478", Token: labToken,
		Rate: 1e6, Burst: 1e6, UDPPorts: model.NewPortSet(rs...),
		// Every scan of 10,000 ports leaves 10,000 nonces remembered
		// against replay for the window; room for many scans.
		MaxNonces: 4_000_000, MaxNoncesPerSource: 4_000_000})
	config := `modules:
  sip-alg:
    checks: [sip-alg]
    reflector: 127.0.0.1:7478
    token_file: token
    no_resolve: true
    timeout: 500ms
`
	for _, n := range []int{1000, 10000} {
		config += fmt.Sprintf(`  udp-%d:
    checks: [udp]
    reflector: 127.0.0.1:7478
    token_file: token
    no_resolve: true
    rate: 200000
    timeout: 500ms
    sample: %d
`, n, n)
	}
	_, srv, cfgFile := newTestExporter(b, config, Options{Net: probetest.Network{NS: l.LAN}})
	bin := buildPortolan(b)
	for _, tc := range []struct {
		module string
		ports  int
		cli    []string
	}{
		{"sip-alg", 0, []string{"--check", "sip-alg", "--timeout", "500ms"}},
		{"udp-1000", 1021, []string{"--check", "udp", "--rate", "200000", "--timeout", "500ms", "--sample", "1000"}},
		{"udp-10000", 10021, []string{"--check", "udp", "--rate", "200000", "--timeout", "500ms", "--sample", "10000"}},
	} {
		b.Run("exporter/"+tc.module, func(b *testing.B) {
			for b.Loop() {
				code, body := get(b, srv.URL+"/probe?service=tw-solutions&module="+tc.module, "X-Prometheus-Scrape-Timeout-Seconds", "30")
				if v, ok := sample(body, `probe_success{service="tw-solutions"}`); code != 200 || !ok || v != 1 {
					b.Fatalf("%d %s", code, body)
				}
			}
			if tc.ports > 0 {
				b.ReportMetric(float64(tc.ports)*float64(b.N)/b.Elapsed().Seconds(), "ports/s")
			}
		})
		b.Run("portolan-probe/"+tc.module, func(b *testing.B) {
			args := append([]string{"probe", "tw-solutions", "--reflector", "127.0.0.1:7478", "--token-file", filepath.Join(filepath.Dir(cfgFile), "token"),
				"--no-resolve", "--output", "json", "--no-progress"}, tc.cli...)
			for b.Loop() {
				if out, err := l.LAN.Command(bin, args...).CombinedOutput(); err != nil {
					b.Fatalf("portolan probe: %v\n%s", err, out)
				}
			}
			if tc.ports > 0 {
				b.ReportMetric(float64(tc.ports)*float64(b.N)/b.Elapsed().Seconds(), "ports/s")
			}
		})
	}
}

// BenchmarkModules100 is the memory of the exporter command with 100
// modules: its resident set after loading them, and after one scrape of
// each (a DNS check that asks no DNS, so nothing leaves the machine).
//
//	go test ./exporter -run '^$' -bench Modules100 -benchtime 1x
func BenchmarkModules100(b *testing.B) {
	bin := buildPortolan(b)
	dir := b.TempDir()
	var cfg strings.Builder
	cfg.WriteString("modules:\n")
	for i := range 100 {
		fmt.Fprintf(&cfg, "  m%03d:\n    checks: [dns, tcp, udp]\n    no_resolve: true\n    rate: %d\n    params: {company: site%03d}\n", i, 100+i, i)
	}
	file := filepath.Join(dir, "exporter.yml")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		cmd := exec.Command(bin, "exporter", "--config", file, "--listen", "127.0.0.1:0")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		addr := ""
		re := regexp.MustCompile(`msg=listening address=(\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr = m[1]
				break
			}
		}
		go io.Copy(io.Discard, stderr)
		if addr == "" {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatal("the exporter did not say where it listens")
		}
		time.Sleep(200 * time.Millisecond)
		idle := rss(b, cmd.Process.Pid)
		for i := range 100 {
			code, body := get(b, fmt.Sprintf("http://%s/probe?service=starleaf&module=m%03d", addr, i))
			if code != 200 || !strings.Contains(body, "portolan_check_success") {
				b.Fatalf("m%03d: %d %s", i, code, body)
			}
		}
		_, own := get(b, "http://"+addr+"/metrics")
		heap, _ := sample(own, "go_memstats_heap_inuse_bytes")
		scraped := rss(b, cmd.Process.Pid)
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		b.ReportMetric(idle/1e6, "MB-rss-loaded")
		b.ReportMetric(scraped/1e6, "MB-rss-after-100-scrapes")
		b.ReportMetric(heap/1e6, "MB-heap-inuse")
	}
}

// rss reads a process's resident set size, in bytes.
func rss(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		b.Fatal("no VmRSS")
	}
	kb, _ := strconv.ParseFloat(string(m[1]), 64)
	return kb * 1024
}
