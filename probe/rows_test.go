package probe

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/resolve"
)

// TestEveryCheckGetsARow: each check asked for shows in the report for
// each service, also when its flows could not be reached (a proxy that
// refuses) or the service has nothing for it, with the reason.
func TestEveryCheckGetsARow(t *testing.T) {
	// A proxy address where nothing listens: CONNECT fails.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	proxy, _ := url.Parse("http://" + dead)
	for _, tc := range []struct {
		name    string
		service string
		cfg     Config
		want    map[string]string // check: what its row says
	}{
		{"proxy and tls, the proxy refusing", "onsight",
			Config{Checks: []string{CheckProxy, CheckTLS}, Endpoints: []string{"app.librestream.com"},
				Proxy: func(string) (*url.URL, error) { return proxy, nil }, ProxyName: "--proxy"},
			map[string]string{CheckProxy: "cannot reach the proxy", CheckTLS: "not probed: no tunnel through the proxy"}},
		{"checks the service has nothing for", "tw-solutions",
			Config{Checks: []string{CheckSTUN, CheckFallback, CheckDNS, CheckTLS}},
			map[string]string{CheckSTUN: "not probed: no STUN server", CheckFallback: "not probed: no flow of tw-solutions has ways out",
				CheckDNS: "not probed: no name", CheckTLS: "not probed: no flow of tw-solutions"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Timeout = time.Second
			p, err := NewPlan(context.Background(), choices(t, resolve.Selection{}, tc.service), resolve.NoResolve{}, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			rep := p.Run(context.Background())
			for check, want := range tc.want {
				found := false
				for _, r := range rep.Results {
					if r.Check == check && r.Service == tc.service && strings.Contains(r.Summary, want) {
						found = true
					}
				}
				if !found {
					t.Errorf("no %s row saying %q; rows:", check, want)
					for _, r := range rep.Results {
						t.Logf("  %s %s %s: %s", r.Status, r.Check, r.Flow, r.Summary)
					}
				}
			}
		})
	}
}
