package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutputFileFlag: -o FILE is the output file of every command that
// writes, --output FORMAT the format, and -o FORMAT is refused when no file
// of that name was meant (issue 8 items 13 and 16).
func TestOutputFileFlag(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeProfile(t, filepath.Join(dir, "good.yaml"), "demo", "443")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		file   string // written, holding want
		want   string
	}{
		{"show -o json", []string{"show", "starleaf", "-o", "json"}, 2,
			"-o json: did you mean --output json? (to write a file named json, say ./json)", "", ""},
		{"audit -o json", []string{"audit", "no-such-service", "--ruleset", "none.json", "-o", "json"}, 2,
			"did you mean --output json?", "", ""},
		{"probe -o HTML", []string{"probe", "no-such-service", "-o", "HTML"}, 2,
			"did you mean --output html?", "", ""},
		{"list -o=yaml", []string{"list", "-o=yaml"}, 2, "did you mean --output yaml?", "", ""},
		{"rules -o table", []string{"rules", "tw-solutions", "-o", "table"}, 2,
			"-o table: rules has no --output format to pick; to write a file named table, say ./table", "", ""},
		{"sync -o json", []string{"sync", "no-such-service", "-o", "json"}, 2, "sync has no --output format", "", ""},
		{"validate -o json", []string{"validate", "good.yaml", "-o", "json"}, 2, "did you mean --output json?", "", ""},
		{"--output FILE", []string{"audit", "no-such-service", "--ruleset", "r.json", "--output", "report.json"}, 2,
			"--output report.json: --output picks the format (table or json); did you mean -o report.json?", "", ""},
		{"show --output FILE", []string{"show", "starleaf", "--output", "out/flows"}, 2,
			"(table, json or yaml); did you mean -o out/flows?", "", ""},
		{"./json is a file", []string{"show", "starleaf", "-o", "./json"}, 0, "", "json", "config.starleaf.com"},
		{"show format and file", []string{"show", "starleaf", "--output", "json", "-o", "flows.json"}, 0, "", "flows.json", `"id": "tunnel-udp"`},
		{"show --output-file", []string{"show", "tw-solutions", "--constraints", "--output", "yaml", "--output-file", "c.yaml"}, 0, "", "c.yaml", "kind: nat-timeout"},
		{"list -o", []string{"list", "-o", "list.txt"}, 0, "", "list.txt", "starleaf"},
		{"validate -o", []string{"validate", "good.yaml", "--output", "json", "-o", "v.json"}, 0, "", "v.json", `"ok": true`},
		{"schema -o", []string{"schema", "-o", "s.json"}, 0, "", "s.json", `"$schema"`},
		{"rules -o", []string{"rules", "tw-solutions", "-o", "tw.nft"}, 0, "", "tw.nft", "table inet portolan"},
		{"rules, missing directory", []string{"rules", "tw-solutions", "-o", filepath.Join(dir, "etc", "nftables.d", "x.nft")}, 2,
			"portolan: write " + filepath.Join(dir, "etc", "nftables.d", "x.nft") + ": directory " + filepath.Join(dir, "etc", "nftables.d") + " does not exist", "", ""},
		{"-o - is stdout", []string{"show", "starleaf", "-o", "-"}, 0, "", "", ""},
		{"missing directory", []string{"show", "starleaf", "-o", filepath.Join(dir, "nftables.d", "x.nft")}, 2,
			filepath.Join(dir, "nftables.d", "x.nft") + ": directory " + filepath.Join(dir, "nftables.d") + " does not exist", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := portolan(tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, tt.code, errs)
			}
			if !strings.Contains(errs, tt.stderr) {
				t.Errorf("stderr %q lacks %q", errs, tt.stderr)
			}
			if strings.Contains(errs, ".tmp-") {
				t.Errorf("stderr names the temporary file: %s", errs)
			}
			for _, f := range []string{"json", "yaml", "table", "html", "HTML"} {
				if tt.file != f {
					if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
						t.Errorf("a file named %s was written", f)
						os.Remove(filepath.Join(dir, f))
					}
				}
			}
			if tt.file == "" {
				return
			}
			got, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(dir, tt.file))
			if !strings.Contains(string(got), tt.want) {
				t.Errorf("%s lacks %q:\n%.400s", tt.file, tt.want, got)
			}
			if out != "" {
				t.Errorf("stdout not empty with -o: %.200s", out)
			}
		})
	}
}

// TestTerminalEscapes: profile and user text with ESC, BEL or a
// bidirectional override reaches the terminal escaped, in errors, in
// validate's lines and in the tables of show and list (issue 8 item 5).
func TestTerminalEscapes(t *testing.T) {
	dir := t.TempDir()
	evil := `"Demo \e]0;owned\a \u202Eevil"`
	src := `service:
  slug: demo
  name: ` + evil + `
  vendor: ` + evil + `
  document: demo.txt
  language: en
roles:
  - name: endpoint
    description: an endpoint
hosts:
  - name: cloud
    entries: [198.51.100.0/24]
    description: the cloud
flows:
  - id: https
    direction: outbound
    proto: tcp
    local: endpoint
    remote: [cloud]
    necessity: required
    app: https
    purpose: {en: ` + evil + `}
    ports: [443]
    source: {quote: TCP 443, line: 2}
`
	good := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(good, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(src, "remote: [cloud]", `remote: ["clo\e[31mud"]`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ruleset := filepath.Join(dir, "evil.rules")
	if err := os.WriteFile(ruleset, []byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"+
		"-A FORWARD -m comment --comment \"ok\x1b]0;owned\x07\" -j ACCEPT\nCOMMIT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // escaped text expected on stdout or stderr
	}{
		{"audit table", []string{"audit", "tw-solutions", "--ruleset", ruleset, "--lan-if", "lan0", "--wan-if", "wan0"}, `ok\x1b]0;owned\x07`},
		{"show table", []string{"--catalog", dir, "show", "demo"}, `\x1b]0;owned\x07`},
		{"list table", []string{"--catalog", dir, "list"}, `\x1b]0;owned\x07`},
		{"validate line", []string{"validate", bad}, `\x1b[31m`},
		{"error of a missing file", []string{"validate", filepath.Join(dir, "x\x1b[2Jy.yaml")}, `x\x1b[2Jy.yaml`},
		{"error of an unknown service", []string{"show", "star\x1b[2Jleaf\a"}, `\x1b[2J`},
		{"error of an overlay", []string{"--catalog", filepath.Dir(bad), "list"}, `\x1b[31m`},
	}
	// An error of several problems is one line each, each "portolan: ".
	two := strings.Replace(strings.Replace(src, "ports: [443]", "ports: [70000]", 1), "remote: [cloud]", `remote: ["clo\e[31mud"]`, 1)
	if err := os.WriteFile(bad, []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := portolan("--catalog", filepath.Dir(bad), "list")
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if code != 2 || len(lines) != 2 || !strings.HasPrefix(lines[0], "portolan: ") || !strings.HasPrefix(lines[1], "portolan: ") {
		t.Errorf("exit %d, want 2 lines each \"portolan: …\":\n%s", code, errs)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, _ := portolan(tt.args...)
			for _, s := range []string{out, errs} {
				if strings.ContainsAny(s, "\x1b\a\u202e") {
					t.Errorf("raw control character reaches the terminal: %q", s)
				}
			}
			if !strings.Contains(out+errs, tt.want) {
				t.Errorf("output lacks %q:\nstdout: %q\nstderr: %q", tt.want, out, errs)
			}
		})
	}
}
