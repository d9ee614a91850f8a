package main

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	"github.com/portolan/portolan/probe"
)

const labCatalog = "../../probe/testdata/catalog"

func TestProbeUsageErrors(t *testing.T) {
	t.Setenv("PORTOLAN_TOKEN", "")
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("https_proxy", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "requires at least 1 arg"},
		{[]string{"probe", "nosuch", "--no-resolve"}, "nosuch"},
		{[]string{"probe", "starleaf", "--no-resolve"}, "missing param company"},
		{[]string{"probe", "tw-solutions", "--check", "tpc"}, `--check "tpc"`},
		{[]string{"probe", "tw-solutions", "--output", "xml"}, `--output "xml"`},
		{[]string{"probe", "tw-solutions", "--no-resolve", "--reflector", "198.51.100.10"}, "needs --token"},
		{[]string{"probe", "tw-solutions", "--no-resolve", "--reflector", "198.51.100.10:x", "--token", "0123456789abc"}, "is not a port"},
		{[]string{"probe", "tw-solutions", "--rate", "0"}, "must be above 0"},
		{[]string{"probe", "tw-solutions", "--proxy", "ftp://x"}, "--proxy"},
		{[]string{"probe", "onsight", "--no-resolve", "--endpoint", "evil.example.com"}, "no selected flow goes to a wildcard"},
		{[]string{"probe", "tw-solutions", "--hosts", "/nonexistent/hosts"}, "--hosts"},
		{[]string{"probe", "tw-solutions", "--ca", "/nonexistent/ca.pem"}, "--ca"},
		{[]string{"reflect"}, "--token"},
		{[]string{"reflect", "--token", "short"}, "at least 12"},
		{[]string{"reflect", "--token", "0123456789abc", "--udp-ports", "70000"}, "above 65535"},
		{[]string{"reflect", "--token", "0123456789abc", "--listen", "nowhere"}, "--listen"},
		{[]string{"reflect", "--token", "0123456789abc", "--max-sessions", "-1"}, "--max-sessions must not be negative"},
	} {
		_, errs, code := portolan(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestProbeHelp(t *testing.T) {
	for _, cmd := range []string{"probe", "reflect"} {
		out, _, code := portolan(cmd, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "Exit codes") && cmd == "probe" {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, out)
		}
	}
}

// TestProbeOffline runs what needs no network: names pinned by --hosts,
// the dns check. Exit 0 and a JSON report when they resolve, exit 1 when
// one does not.
func TestProbeOffline(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(hosts, []byte("198.51.100.40 stun.lab.test web.lab.test\n"), 0o644)
	out, errs, code := portolan("--catalog", labCatalog, "probe", "lab", "--hosts", hosts, "--no-resolve", "--check", "dns", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	var rep probe.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not a report: %v\n%s", err, out)
	}
	if !rep.OK || len(rep.Results) != 2 || rep.Results[0].Check != "dns" || rep.Results[0].Addrs[0] != "198.51.100.40" {
		t.Errorf("report %+v", rep)
	}
	out, _, code = portolan("--catalog", labCatalog, "probe", "lab", "--no-resolve", "--check", "dns")
	if code != 1 || !strings.Contains(out, "does not resolve") || !strings.Contains(out, "FAILED: 2 required checks failed") {
		t.Errorf("unresolved names: exit %d\n%s", code, out)
	}
}

// binary builds portolan for a test that runs it in a namespace.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "portolan")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	return bin
}

// TestProbeCommandInLab runs the real commands in a lab: portolan reflect
// in the cloud, portolan probe in the LAN behind a router that drops some
// ports, with the table, JSON and HTML outputs and their exit codes.
func TestProbeCommandInLab(t *testing.T) {
	l := netlab.New(t)
	bin := binary(t)
	if err := l.Router.Nft(`table inet filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		udp dport { 5070, 10100-10101 } drop
	}
}
`); err != nil {
		t.Fatal(err)
	}
	const token = "cli-lab-token-0123456"
	refl := l.Cloud.Command(bin, "reflect", "--listen", "198.51.100.10:7478", "--udp-ports", "5060-5080,10000-10200",
		"--tcp-ports", "80,443", "--token", token, "--rate-limit", "20000", "--stats", "0", "--shards", "2")
	stderr, err := refl.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := refl.Start(); err != nil {
		t.Fatal(err)
	}
	// Read its stderr to the end; up tells when both shards listen.
	var rerr strings.Builder
	up, logged := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			rerr.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "shards up") {
				close(up)
			}
		}
	}()
	defer func() {
		refl.Process.Signal(syscall.SIGTERM)
		<-logged
		refl.Wait()
		if !strings.Contains(rerr.String(), "stopped; received") {
			t.Errorf("reflect did not report on exit: %s", rerr.String())
		}
		t.Logf("reflect: %s", rerr.String())
	}()
	select {
	case <-up:
	case <-logged:
		t.Fatalf("reflect stopped while starting")
	case <-time.After(30 * time.Second):
		t.Fatalf("reflect not up after 30 s")
	}

	dir := t.TempDir()
	run := func(args ...string) (string, int) {
		cmd := l.LAN.Command(bin, append([]string{"probe", "tw-solutions", "--reflector", "198.51.100.10", "--no-resolve", "--rate", "3000", "--timeout", "1s"}, args...)...)
		cmd.Env = append(os.Environ(), "PORTOLAN_TOKEN="+token)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	out, code := run("--check", "udp,tcp")
	t.Logf("portolan probe:\n%s", out)
	if code != 1 {
		t.Errorf("table: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"1 of 21 ports blocked: 5070", "2 of 201 ports blocked: 10100-10101 (49800 more not probed)", "FAILED: 2 required checks failed", "reflector 198.51.100.10:7478"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\r[") {
		t.Error("a progress bar although stderr is not a terminal")
	}

	jsonFile := filepath.Join(dir, "probe.json")
	if out, code := run("--check", "udp", "--output", "json", "-o", jsonFile); code != 1 || !strings.Contains(out, "FAILED") {
		t.Errorf("json -o: exit %d: %s", code, out)
	}
	var rep probe.Report
	b, _ := os.ReadFile(jsonFile)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("json: %v", err)
	}
	var sip *probe.Result
	for i := range rep.Results {
		if rep.Results[i].Flow == "sip" {
			sip = &rep.Results[i]
		}
	}
	if sip == nil || !slices.Equal(sip.Ports.Blocked, []string{"5070"}) || rep.OK || rep.Failures != 2 {
		t.Errorf("json report: %s", b)
	}

	html := filepath.Join(dir, "probe.html")
	if _, code := run("--check", "udp,tcp", "--output", "html", "-o", html); code != 1 {
		t.Errorf("html: exit %d", code)
	}
	page, _ := os.ReadFile(html)
	for _, want := range []string{"<!DOCTYPE html>", "<style>", "FAILED: 2 required checks failed", "10100-10101"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("html lacks %q", want)
		}
	}
	// Self-contained: nothing to fetch.
	if re := regexp.MustCompile(`(?i)<(script|link|img|iframe)|(src|href)\s*=|url\(|@import`); re.Match(page) {
		t.Errorf("html refers to something outside itself: %s", re.Find(page))
	}

	// Nothing blocked on what the reflector serves: exit 0.
	l.Router.Run("nft", "flush", "ruleset")
	if out, code := run("--check", "udp,tcp"); code != 0 || !strings.Contains(out, "OK: every required check passed") {
		t.Errorf("open path: exit %d\n%s", code, out)
	}
}

func TestProxyFunc(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://probe:secret@proxy.example:3128")
	t.Setenv("https_proxy", "")
	t.Setenv("NO_PROXY", "internal.example")
	fn, name, err := proxyFunc("")
	if err != nil || fn == nil {
		t.Fatalf("from the environment: %v", err)
	}
	if strings.Contains(name, "secret") || !strings.Contains(name, "$HTTPS_PROXY") {
		t.Errorf("name %q", name)
	}
	if u, _ := fn("app.librestream.com:443"); u == nil || u.Host != "proxy.example:3128" || u.User.Username() != "probe" {
		t.Errorf("proxy for app.librestream.com: %v", u)
	}
	if u, _ := fn("sip.internal.example:443"); u != nil {
		t.Errorf("NO_PROXY ignored: %v", u)
	}
	if fn, _, _ := proxyFunc("none"); fn != nil {
		t.Error("--proxy none still proxies")
	}
	fn, name, err = proxyFunc("http://u:p@198.51.100.10:3128")
	if err != nil || strings.Contains(name, ":p@") {
		t.Errorf("--proxy: %v %q", err, name)
	}
	if u, _ := fn("anything:443"); u == nil || u.Host != "198.51.100.10:3128" {
		t.Errorf("--proxy for anything: %v", u)
	}
}
