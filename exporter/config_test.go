package exporter

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cfg, err := Parse([]byte(`modules:
  rtp:
    checks: [udp, sip-alg]
    reflector: 198.51.100.2:7478
    token_file: /etc/portolan/token
    rate: 20000
  starleaf-dns:
    checks: dns,tcp
    params: {company: acme, "starleaf:company": beta}
    features: [webrtc]
    services: [starleaf]
    no_resolve: true
    hosts: hosts.txt
    timeout: 1500ms
    scrape_timeout: 20s
    sample: 10
    concurrency: 4
    nat_measure: true
    nat_max: 2m
    proxy: http://user:pw@192.0.2.3:3128
    rate: 2.5
`), "ex.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Names(); !slices.Equal(got, []string{"rtp", "starleaf-dns"}) {
		t.Fatalf("modules %v", got)
	}
	rtp := cfg.Modules["rtp"]
	if !slices.Equal(rtp.Checks, []string{"udp", "sip-alg"}) || rtp.Reflector != "198.51.100.2:7478" || rtp.Rate != 20000 ||
		rtp.TokenFile != "/etc/portolan/token" || rtp.Timeout != 3*time.Second || rtp.Concurrency != 8 {
		t.Errorf("rtp: %+v", rtp)
	}
	s := cfg.Modules["starleaf-dns"]
	if !slices.Equal(s.Checks, []string{"dns", "tcp"}) || s.Params["company"] != "acme" || s.Params["starleaf:company"] != "beta" ||
		!s.NoResolve || s.Timeout != 1500*time.Millisecond || s.ScrapeTimeout != 20*time.Second || s.Sample != 10 ||
		s.Concurrency != 4 || !s.NATMeasure || s.NATMax != 2*time.Minute || s.Rate != 2.5 || s.proxy == nil ||
		strings.Contains(s.proxyName, "pw") {
		t.Errorf("starleaf-dns: %+v", s)
	}
	sel := s.selection([]string{"company=gamma"})
	if !slices.Equal(sel.Params, []string{"company=acme", "starleaf:company=beta", "company=gamma"}) || !slices.Equal(sel.Features, []string{"webrtc"}) {
		t.Errorf("selection %+v", sel)
	}
}

// TestParseErrors: every mistake names the file, line and column of the
// key or value at fault, and what to write instead.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"empty", ``, "ex.yml: empty"},
		{"not a mapping", `[1, 2]`, "ex.yml:1:1: the config is a mapping"},
		{"unknown top key", "modules: {a: {}}\nmodule: {}\n", `ex.yml:2:1: unknown key "module"`},
		{"no module", "modules: {}\n", "ex.yml:1:1: no module"},
		{"modules not a mapping", "modules: [a]\n", "ex.yml:1:10: modules: a mapping"},
		{"bad module name", "modules:\n  'a b': {}\n", `ex.yml:2:3: module name "a b"`},
		{"module not a mapping", "modules:\n  rtp: udp\n", "ex.yml:2:8: module rtp: a mapping"},
		{"unknown key", "modules:\n  rtp:\n    checks: [udp]\n    rates: 5\n", `ex.yml:4:5: module rtp: unknown key "rates"`},
		{"unknown check", "modules:\n  rtp:\n    checks: [udp, rtp]\n", `ex.yml:3:13: module rtp: checks: "rtp": one of dns`},
		{"check not a string", "modules:\n  rtp:\n    checks: [udp, 5]\n", "ex.yml:3:19: module rtp: checks: a list of strings"},
		{"rate zero", "modules:\n  rtp:\n    rate: 0\n", "ex.yml:3:11: module rtp: rate: packets and connection attempts per second, from 1"},
		{"rate string", "modules:\n  rtp:\n    rate: fast\n", "ex.yml:3:11: module rtp: rate:"},
		{"rate nan", "modules:\n  rtp:\n    rate: .nan\n", "ex.yml:3:11: module rtp: rate:"},
		{"timeout number", "modules:\n  rtp:\n    timeout: 3\n", "ex.yml:3:14: module rtp: timeout: a duration"},
		{"timeout negative", "modules:\n  rtp:\n    timeout: -1s\n", "ex.yml:3:14: module rtp: timeout: a duration"},
		{"concurrency", "modules:\n  rtp:\n    concurrency: 0\n", "ex.yml:3:18: module rtp: concurrency: a whole number from 1"},
		{"sample", "modules:\n  rtp:\n    sample: 1.5\n", "ex.yml:3:13: module rtp: sample: a whole number"},
		{"bool", "modules:\n  rtp:\n    nat_measure: yes please\n", "ex.yml:3:18: module rtp: nat_measure: true or false"},
		{"reflector port", "modules:\n  rtp:\n    reflector: 198.51.100.2:99999\n    token_file: t\n", `ex.yml:3:16: module rtp: reflector: "198.51.100.2:99999": port`},
		{"reflector without token", "modules:\n  rtp:\n    reflector: 198.51.100.2\n", "ex.yml:3:5: module rtp: reflector needs token_file"},
		{"token without reflector", "modules:\n  rtp:\n    token_file: t\n", "ex.yml:3:5: module rtp: token_file without reflector"},
		{"proxy", "modules:\n  rtp:\n    proxy: ftp://x\n", "ex.yml:3:12: module rtp: proxy: write http://"},
		{"params list", "modules:\n  rtp:\n    params: [company=acme]\n", "ex.yml:3:13: module rtp: params: a mapping of NAME: VALUE"},
		{"param value mapping", "modules:\n  rtp:\n    params: {company: {a: b}}\n", "ex.yml:3:14: module rtp: params: NAME: VALUE"},
		{"dns", "modules:\n  rtp:\n    dns: [192.0.2.53]\n", `ex.yml:3:10: module rtp: dns: "192.0.2.53": HOST:PORT`},
		{"no_resolve and dns", "modules:\n  rtp:\n    no_resolve: true\n    dns: [192.0.2.53:53]\n", "ex.yml:3:5: module rtp: no_resolve and dns"},
		{"duplicate key", "modules:\n  rtp:\n    rate: 5\n    rate: 6\n", `ex.yml:4:5: key "rate" given twice (first at line 3)`},
		{"two documents", "modules: {a: {}}\n---\nmodules: {b: {}}\n", "ex.yml:2:1: one YAML document only"},
		{"syntax", "modules:\n  rtp: [\n", "ex.yml: line 2: did not find expected node content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "ex.yml")
			if err == nil {
				t.Fatalf("accepted %q", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of more than one line: %q", err)
			}
		})
	}
}

// TestLoad: the files a module names are read at load, relative to the
// config's directory, and their faults are errors of the config.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("token", "tok-0123456789abcdef\n")
	write("hosts", "198.51.100.40 config.starleaf.com\n")
	cfgFile := write("ex.yml", "modules:\n  rtp:\n    reflector: 198.51.100.2\n    token_file: token\n    hosts: hosts\n")
	cfg, err := Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Modules["rtp"]; string(m.token) != "tok-0123456789abcdef" || m.hosts == nil {
		t.Errorf("token %q hosts %v", m.token, m.hosts)
	}
	for _, tc := range []struct{ name, token, yaml, want string }{
		{"missing token", "", "modules:\n  rtp:\n    reflector: 198.51.100.2\n    token_file: nothere\n", "module rtp: token_file:"},
		{"empty token", " \n", "modules:\n  rtp:\n    reflector: 198.51.100.2\n    token_file: token\n", "token_file token: empty"},
		{"two words", "a b\n", "modules:\n  rtp:\n    reflector: 198.51.100.2\n    token_file: token\n", "one word on one line"},
		{"missing hosts", "x\n", "modules:\n  rtp:\n    hosts: /nonexistent/hosts\n", "module rtp: hosts:"},
		{"ca not pem", "x\n", "modules:\n  rtp:\n    ca: token\n", "ca token: no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write("token", tc.token)
			_, err := Load(write("bad.yml", tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yml") {
				t.Errorf("error %v, want %q naming bad.yml", err, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "none.yml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing config: %v", err)
	}
}

// FuzzConfig: any bytes are a config or an error with a position, never a
// panic; what parses is within the bounds the probe takes.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("modules:\n  rtp:\n    checks: [udp]\n    reflector: 198.51.100.2:7478\n    token_file: t\n    rate: 20000\n"))
	f.Add([]byte("modules:\n  a: {params: {company: acme}, timeout: 2s, sample: 3, proxy: none}\n"))
	f.Add([]byte("modules:\n  a: {rate: 1e400, concurrency: 99999999999999999999}\n"))
	f.Add([]byte("modules: &a\n  b: *a\n"))
	f.Add([]byte("modules:\n  a:\n    <<: {rate: 5}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Errorf("error without the file name: %v", err)
			}
			return
		}
		if len(cfg.Modules) == 0 {
			t.Error("a config without modules")
		}
		for name, m := range cfg.Modules {
			if !moduleName.MatchString(name) || m.Rate < 1 || m.Rate > 1e6 || m.Concurrency < 1 || m.Timeout <= 0 || m.Sample < 0 {
				t.Errorf("module %q out of bounds: %+v", name, m)
			}
			if (m.Reflector == "") != (m.TokenFile == "") {
				t.Errorf("module %q: reflector %q token_file %q", name, m.Reflector, m.TokenFile)
			}
		}
	})
}
