package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExporterCommand: --check says whether a config is good (exit 0) or
// not (exit 2, file:line:column), and the command's usage errors exit 2
// before anything listens.
func TestExporterCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("token", "exporter-token-0123\n")
	good := write("good.yml", "modules:\n  rtp:\n    checks: [udp, sip-alg]\n    reflector: 198.51.100.2:7478\n    token_file: token\n    rate: 20000\n")
	bad := write("bad.yml", "modules:\n  rtp:\n    checks: [udp]\n    rate: 0\n")
	unknownSvc := write("svc.yml", "modules:\n  rtp:\n    services: [starleaf, skype]\n")
	noToken := write("notoken.yml", "modules:\n  rtp:\n    reflector: 198.51.100.2\n    token_file: missing\n")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"check good", []string{"--config", good, "--check"}, 0, "module rtp: checks udp,sip-alg, reflector 198.51.100.2:7478, rate 20000/s\n" + good + ": OK, 1 modules\n", ""},
		{"check bad", []string{"--config", bad, "--check"}, 2, "", "portolan: " + bad + ":4:11: module rtp: rate: packets and connection attempts per second, from 1 to 1000000\n"},
		{"check unknown service", []string{"--config", unknownSvc, "--check"}, 2, "", `svc.yml: module rtp: services: unknown service "skype"`},
		{"check missing token", []string{"--config", noToken, "--check"}, 2, "", "module rtp: token_file:"},
		{"check missing config", []string{"--config", filepath.Join(dir, "none.yml"), "--check"}, 2, "", "none.yml"},
		{"no config", nil, 2, "", "--config FILE is required"},
		{"bad log level", []string{"--config", good, "--log-level", "loud"}, 2, "", `--log-level "loud"`},
		{"bad listen", []string{"--config", good, "--listen", "198.51.100.77:1"}, 2, "", "--listen 198.51.100.77:1"},
		{"argument", []string{"--config", good, "tw-solutions"}, 2, "", "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := portolan(append([]string{"exporter"}, tc.args...)...)
			if code != tc.code || (tc.out != "" && out != tc.out) || !strings.Contains(errs, tc.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errs, tc.code, tc.out, tc.err)
			}
		})
	}
	out, _, code := portolan("exporter", "--help")
	for _, want := range []string{"/probe?service=SERVICE&module=MODULE", "token_file:", "X-Prometheus-Scrape-Timeout-Seconds", "--check", "127.0.0.1:9478"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
