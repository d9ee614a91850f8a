package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/probe/probetest"
	"github.com/portolan/portolan/reflector"
)

// chromiumFlags keep a headless Chromium quiet on a closed network:
// without the background-networking flags it waits on services it cannot
// reach.
var chromiumFlags = []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync", "no-proxy-server",
	"disable-dev-shm-usage", "no-default-browser-check", "disable-extensions"}

// newBrowser starts the system's Chromium (never a downloaded one) with a
// fresh profile and returns a tab's context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		testenv.SkipOrFail(t, "chromium is not installed (apt-get install chromium; scripts/deps.sh installs it)")
	}
	// A fresh profile, removed once Chromium has exited (t.TempDir would
	// race with its last writes).
	profile, err := os.MkdirTemp("", "portolan-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 800)}
	for _, f := range chromiumFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel2)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("chromium %s: %v", path, err)
	}
	return ctx
}

// artifacts is where screenshots go: $PORTOLAN_ARTIFACTS/web, else a
// temporary directory.
func artifacts(t *testing.T) string {
	dir := t.TempDir()
	if a := os.Getenv("PORTOLAN_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "web")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// sizes are the screens every page is shot at: a laptop and a phone.
var sizes = []struct {
	name          string
	width, height int64
	mobile        bool
}{{"1280x800", 1280, 800, false}, {"390x844", 390, 844, true}}

// shoot saves the page as it stands at every size.
func shoot(dir, name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for _, s := range sizes {
			if err := emulation.SetDeviceMetricsOverride(s.width, s.height, 1, s.mobile).Do(ctx); err != nil {
				return err
			}
			var png []byte
			if err := chromedp.CaptureScreenshot(&png).Do(ctx); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, name+"-"+s.name+".png"), png, 0o644); err != nil {
				return err
			}
		}
		return emulation.ClearDeviceMetricsOverride().Do(ctx)
	})
}

// downloads collects the files Chromium downloads into dir.
type downloads struct {
	dir  string
	mu   sync.Mutex
	done map[string]string // guid → suggested file name
	name map[string]string
	ch   chan string
}

func watchDownloads(ctx context.Context, t *testing.T) *downloads {
	d := &downloads{dir: t.TempDir(), done: map[string]string{}, name: map[string]string{}, ch: make(chan string, 8)}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *browser.EventDownloadWillBegin:
			d.mu.Lock()
			d.name[e.GUID] = e.SuggestedFilename
			d.mu.Unlock()
		case *browser.EventDownloadProgress:
			if e.State == browser.DownloadProgressStateCompleted {
				d.ch <- e.GUID
			}
		}
	})
	if err := chromedp.Run(ctx, browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllowAndName).
		WithDownloadPath(d.dir).WithEventsEnabled(true)); err != nil {
		t.Fatal(err)
	}
	return d
}

// next waits for a download and returns its suggested name and content.
func (d *downloads) next(t *testing.T) (string, []byte) {
	t.Helper()
	select {
	case guid := <-d.ch:
		data, err := os.ReadFile(filepath.Join(d.dir, guid))
		if err != nil {
			t.Fatal(err)
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.name[guid], data
	case <-time.After(15 * time.Second):
		t.Fatal("no download within 15 s")
	}
	return "", nil
}

// TestBrowser drives a real Chromium through the pages: the catalog's
// search (the script's filter and the server's), a service with a param
// filled in, rules for three targets downloaded and checked by their own
// tools (nft -c, iptables-restore --test) in a lab namespace, an audit
// upload showing the blocked flow first, and a probe run in the lab,
// through a reflector behind a router that drops part of TW Solutions'
// RTP range, to its report. Every page is shot at 1280x800 and 390x844.
func TestBrowser(t *testing.T) {
	if why := netlab.Available(); why != "" {
		testenv.SkipOrFail(t, "%s", why)
	}
	ctx := newBrowser(t)
	shots := artifacts(t)

	l := netlab.New(t)
	if err := l.Router.Nft(`table ip nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
}
table inet filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		udp dport 10500-10502 drop
	}
}
`); err != nil {
		t.Fatal(err)
	}
	token := []byte("web-browser-test-token-01")
	ports := func(s string) model.PortSet {
		rs, err := model.ParsePortList(s)
		if err != nil {
			t.Fatal(err)
		}
		return model.NewPortSet(rs...)
	}
	probetest.Reflector(t, l.Cloud, reflector.Config{Listen: "198.51.100.10:7478", Token: token, Rate: 100000, Burst: 100000,
		UDPPorts: ports("5060-5080,10000-10999"), TCPPorts: ports("80,443")})
	srv := newServer(t, Options{Probe: probe.Config{Reflector: "198.51.100.10", Token: token, Rate: 5000, Concurrency: 8,
		Timeout: time.Second, Net: probetest.Network{NS: l.LAN}}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	dl := watchDownloads(ctx, t)
	// What the console says: a Content-Security-Policy violation (an
	// inline script or style) or a script error fails the test.
	var consoleMu sync.Mutex
	var console []string
	chromedp.ListenTarget(ctx, func(ev any) {
		consoleMu.Lock()
		defer consoleMu.Unlock()
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError && e.Entry.Source != cdplog.SourceNetwork {
				console = append(console, string(e.Entry.Source)+": "+e.Entry.Text)
			}
		case *cdpruntime.EventExceptionThrown:
			console = append(console, "exception: "+e.ExceptionDetails.Error())
		}
	})
	defer func() {
		consoleMu.Lock()
		defer consoleMu.Unlock()
		for _, m := range console {
			t.Errorf("console: %s", m)
		}
	}()
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Run(tctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// click follows a link or submits a form and waits for the new page
	// (not the old one, which has the same elements).
	click := func(sel string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			if err := chromedp.Evaluate(`window.portolanOld = true`, nil).Do(ctx); err != nil {
				return err
			}
			if err := chromedp.Click(sel).Do(ctx); err != nil {
				return err
			}
			for {
				var fresh bool
				// Errors while the page changes are expected: try again.
				if chromedp.Evaluate(`window.portolanOld === undefined && document.readyState === "complete"`, &fresh).Do(ctx) == nil && fresh {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("%s: no new page: %w", sel, ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}

	// The catalog: the script filters as one types; the server on submit.
	var visible []string
	const shown = `Array.from(document.querySelectorAll("#services tbody tr[data-search]")).filter(r => !r.hidden).map(r => r.querySelector("code").textContent)`
	run("catalog", chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible("#services"), shoot(shots, "catalog"),
		chromedp.SendKeys("#q", "librestream"), chromedp.Evaluate(shown, &visible))
	if strings.Join(visible, ",") != "onsight" {
		t.Errorf("typing librestream leaves %v visible, want onsight", visible)
	}
	var loc, count string
	run("catalog search", click(".search button"), chromedp.WaitVisible("#services"),
		chromedp.Location(&loc), chromedp.Text("#count", &count), chromedp.Evaluate(shown, &visible), shoot(shots, "catalog-search"))
	if !strings.Contains(loc, "q=librestream") || count != "1 of 5 services" || strings.Join(visible, ",") != "onsight" {
		t.Errorf("server-side search: %s: %q, %v", loc, count, visible)
	}

	// A service with a param filled in.
	var flows string
	run("service", chromedp.Navigate(ts.URL+"/services/starleaf"), chromedp.WaitVisible("#flows"),
		chromedp.SendKeys("#param-company", "acme"), click("#apply"), chromedp.WaitVisible("#flows"),
		chromedp.Text("#flows", &flows), shoot(shots, "service"))
	if !strings.Contains(flows, "acme.call.sl") || strings.Contains(flows, "{company}") {
		t.Errorf("the flows after company=acme:\n%s", flows)
	}

	// Rules for three targets, downloaded and checked by their tools.
	for _, tc := range []struct {
		target, file string
		check        []string // a referee reading the file on stdin
		want         string
	}{
		{"nftables", "portolan-starleaf-nftables.nft", []string{"nft", "-c", "-f", "-"}, "203.0.113.10"},
		{"iptables", "portolan-starleaf-iptables.rules", []string{"iptables-restore", "--test", "--noflush"}, "203.0.113.10"},
		// squid has no offline check of a config snippet; its syntax is
		// squid.conf's documented acl/http_access (squid-cache.org/Doc/config/acl/).
		{"squid", "portolan-starleaf-squid.conf", nil, "dstdomain -n acme.call.sl"},
	} {
		var pre string
		run("rules "+tc.target, chromedp.SetValue("#target", tc.target, chromedp.ByQuery), click("#show-rules"),
			chromedp.WaitVisible("#rules-out"), chromedp.Text("#rules-out pre", &pre))
		if tc.target == "nftables" {
			run("rules shot", chromedp.ScrollIntoView("#rules-out"), shoot(shots, "rules"))
		}
		run("download "+tc.target, chromedp.Click("#download"))
		name, data := dl.next(t)
		if name != tc.file {
			t.Errorf("%s: downloaded %q, want %q", tc.target, name, tc.file)
		}
		if !strings.Contains(string(data), tc.want) {
			t.Errorf("%s: no %q in the download:\n%s", tc.target, tc.want, data)
		}
		// The two were made a moment apart: all but the time agrees.
		if a, b := withoutTime(pre), withoutTime(string(data)); a != b {
			t.Errorf("%s: the download differs from the page's output:\n%s\n----\n%s", tc.target, a, b)
		}
		if tc.check != nil {
			if out, err := l.Router.RunInput(data, tc.check[0], tc.check[1:]...); err != nil {
				t.Errorf("%s: %s refuses the download: %v\n%s", tc.target, strings.Join(tc.check, " "), err, out)
			}
		}
	}

	// An audit upload: the blocked RTP flow comes first.
	rs := filepath.Join(t.TempDir(), "router.rules")
	if err := os.WriteFile(rs, []byte(blockRTP), 0o644); err != nil {
		t.Fatal(err)
	}
	var first, verdict string
	run("audit", chromedp.Navigate(ts.URL+"/services/tw-solutions"), chromedp.WaitVisible("#audit"),
		chromedp.SendKeys("#lan", "192.0.2.0/24"), chromedp.SendKeys("input[name=lan_if]", "lan0"), chromedp.SendKeys("input[name=wan_if]", "wan0"),
		chromedp.SetUploadFiles("#ruleset-file", []string{rs}), click("#run-audit"), chromedp.WaitVisible("#audit-out"),
		chromedp.Text("table.audit tbody tr:first-child", &first), chromedp.Text("#audit-out .verdict", &verdict),
		chromedp.ScrollIntoView("#audit-out"), shoot(shots, "audit"))
	if !strings.Contains(first, "blocked") || !strings.Contains(first, "tw-solutions/rtp") || !strings.Contains(first, "deciding rule") {
		t.Errorf("first audit row: %q", first)
	}
	if !strings.Contains(verdict, "not allowed") || !strings.Contains(verdict, "router.rules") {
		t.Errorf("audit verdict: %q", verdict)
	}

	// A probe run in the lab, followed to its report.
	var progress, result, report string
	run("probe", chromedp.Navigate(ts.URL+"/services/tw-solutions"), chromedp.WaitVisible("#probe"),
		chromedp.Click(`input[name=check][value=udp]`), click("#run-probe"), chromedp.WaitVisible("#run"),
		chromedp.Text("#progress", &progress), shoot(shots, "run"))
	run("probe finishes", chromedp.WaitVisible("#report"), chromedp.Text("#result", &result), shoot(shots, "run-finished"))
	t.Logf("run page: %q, then %q", progress, result)
	run("report", click("#report"), chromedp.WaitReady("body"), chromedp.Text("body", &report), shoot(shots, "report"))
	for _, want := range []string{"10500-10502", "blocked"} {
		if !strings.Contains(report, want) {
			t.Errorf("no %q in the probe report:\n%s", want, report[:min(len(report), 2000)])
		}
	}
	var errText string
	run("error page", chromedp.Navigate(ts.URL+"/services/nope"), chromedp.WaitVisible("#error"), chromedp.Text("#error", &errText), shoot(shots, "error"))
	if !strings.Contains(errText, `no service "nope"`) {
		t.Errorf("error page: %q", errText)
	}
	var runs string
	run("runs", chromedp.Navigate(ts.URL+"/runs"), chromedp.WaitVisible("#runs"), chromedp.Text("#runs", &runs), shoot(shots, "runs"))
	if !strings.Contains(runs, "tw-solutions") || !strings.Contains(runs, "report") {
		t.Errorf("runs page: %q", runs)
	}
}

// withoutTime drops the lines that carry the generation time.
func withoutTime(s string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.Contains(l, time.Now().UTC().Format("2006-01-02")) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
