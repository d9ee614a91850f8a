package probe

import (
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/peers"
	"github.com/portolan/portolan/probe/probetest"
	"github.com/portolan/portolan/resolve"
)

// TestSTUN asks coturn in the cloud for this host's mapped address:
// through the masquerading router NAT is seen, routed it is not; blocked,
// the three tries give up in under two seconds.
func TestSTUN(t *testing.T) {
	t.Parallel()
	l := netlab.New(t)
	probetest.Coturn(t, l.Cloud, netlab.CloudHost, 3478)
	const hosts = "198.51.100.10 stun.lab.test\n"
	cfg := Config{Checks: []string{CheckSTUN}}

	if err := l.Router.Nft(masquerade); err != nil {
		t.Fatal(err)
	}
	r := find(labProbe(t, l, resolve.Selection{}, hosts, cfg, "lab"), CheckSTUN, "stun")
	if r == nil || r.Status != OK || r.STUN == nil || !r.STUN.NAT || !strings.HasPrefix(r.STUN.Mapped, "198.51.100.1:") {
		t.Fatalf("through NAT: %+v %+v", r, r.STUN)
	}
	if r.STUN.Mismatch || r.STUN.PlainMapped != r.STUN.Mapped {
		t.Errorf("coturn's answer seen as rewritten: %+v", r.STUN)
	}

	l.Router.Run("nft", "delete", "table", "ip", "nat")
	r = find(labProbe(t, l, resolve.Selection{}, hosts, cfg, "lab"), CheckSTUN, "stun")
	if r == nil || r.Status != OK || r.STUN.NAT || !strings.HasPrefix(r.STUN.Mapped, "192.0.2.10:") {
		t.Errorf("routed: %+v %+v", r, r.STUN)
	}

	if err := l.Router.Nft("table inet f {\n chain forward {\n  type filter hook forward priority filter; udp dport 3478 drop\n }\n}\n"); err != nil {
		t.Fatal(err)
	}
	r = find(labProbe(t, l, resolve.Selection{}, hosts, cfg, "lab"), CheckSTUN, "stun")
	if r == nil || r.Status != Fail || r.STUN.Tries != 3 || !strings.Contains(r.Summary, "no STUN answer") {
		t.Errorf("blocked: %+v", r)
	}
	// Three short tries (1.75 s), not RFC 5389's 39.5 s: a bound far
	// from both, so that a loaded machine cannot make it flaky.
	if r != nil && r.Elapsed > Millis(15*time.Second) {
		t.Errorf("blocked STUN took %s; three short tries should not", r.Elapsed)
	}
}

// TestSTUNMismatch: a server whose MAPPED-ADDRESS differs from its
// XOR-MAPPED-ADDRESS — what an ALG rewriting addresses in packets leaves —
// is reported. No ALG on Linux rewrites STUN, so a small server here plays
// the rewritten answer.
func TestSTUNMismatch(t *testing.T) {
	t.Parallel()
	l := netlab.New(t)
	pc, err := l.Cloud.ListenPacket("udp4", "198.51.100.10:3478")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil {
				continue
			}
			ua := from.(*net.UDPAddr)
			res, _ := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: ua.IP, Port: ua.Port},
				&stun.MappedAddress{IP: net.IPv4(203, 0, 113, 99), Port: ua.Port},
				stun.Fingerprint)
			pc.WriteTo(res.Raw, from)
		}
	}()
	r := find(labProbe(t, l, resolve.Selection{}, "198.51.100.10 stun.lab.test\n", Config{Checks: []string{CheckSTUN}}, "lab"), CheckSTUN, "stun")
	if r == nil || r.Status != Warn || !r.STUN.Mismatch || !strings.Contains(r.Summary, "203.0.113.99") {
		t.Errorf("rewritten MAPPED-ADDRESS: %+v", r)
	}
}

// TestTLS: versions against the document's minimum (the lab's 1.2 and
// STARFACE's "no TLS 1.0"), certificates verified for the name, and an
// untrusted CA minting a certificate for the very name named as inspection.
func TestTLS(t *testing.T) {
	t.Parallel()
	l := netlab.New(t)
	origin := peers.NewCA(t, "Portolan Origin CA")
	stranger := peers.NewCA(t, "Zscaler Intermediate Root CA")
	extra := []netip.Addr{netip.MustParseAddr("203.0.113.11"), netip.MustParseAddr("203.0.113.12"), netip.MustParseAddr("203.0.113.13")}
	for _, a := range extra {
		if err := l.AddCloudAddr(a); err != nil {
			t.Fatal(err)
		}
	}
	probetest.TLSServer(t, l.Cloud, "198.51.100.10:443", origin.Issue(t, []string{"web.lab.test"}), tls.VersionTLS12, tls.VersionTLS13)
	probetest.TLSServer(t, l.Cloud, "203.0.113.11:443", origin.Issue(t, []string{"web.lab.test", "license.starface.de"}), tls.VersionTLS10, tls.VersionTLS11)
	probetest.TLSServer(t, l.Cloud, "203.0.113.12:443", stranger.Issue(t, []string{"web.lab.test"}), tls.VersionTLS12, tls.VersionTLS13)
	probetest.TLSServer(t, l.Cloud, "203.0.113.13:443", origin.Issue(t, []string{"other.example.net"}), tls.VersionTLS12, tls.VersionTLS13)
	cfg := Config{Checks: []string{CheckTCP, CheckTLS}, RootCAs: origin.Pool()}

	for _, tc := range []struct {
		addr, version string
		status        Status
		says          string
		inspected     bool
	}{
		{"198.51.100.10", "1.3", OK, "TLS 1.3, certificate verified (at least 1.2 asked)", false},
		{"203.0.113.11", "1.1", Fail, "negotiated TLS 1.1, below the 1.2 the document asks for (tls12)", false},
		{"203.0.113.12", "1.3", Warn, "re-signed by CN=Zscaler Intermediate Root CA,O=portolan tests", true},
		{"203.0.113.13", "1.3", Fail, "certificate not trusted", false},
	} {
		rep := labProbe(t, l, resolve.Selection{}, tc.addr+" web.lab.test\n", cfg, "lab")
		r := find(rep, CheckTLS, "web")
		if r == nil || r.TLS == nil {
			t.Fatalf("%s: no tls result", tc.addr)
		}
		if r.Status != tc.status || r.TLS.Version != tc.version || !strings.Contains(r.Summary, tc.says) || r.TLS.Inspected != tc.inspected {
			t.Errorf("%s: %s TLS %s %q inspected=%v; want %s %s %q %v", tc.addr, r.Status, r.TLS.Version, r.Summary, r.TLS.Inspected, tc.status, tc.version, tc.says, tc.inspected)
		}
	}

	// STARFACE: TLS 1.0 does not work on 443; 1.1 and later do.
	for _, a := range []string{"203.0.113.14", "203.0.113.15"} {
		if err := l.AddCloudAddr(netip.MustParseAddr(a)); err != nil {
			t.Fatal(err)
		}
	}
	probetest.TLSServer(t, l.Cloud, "203.0.113.14:443", origin.Issue(t, []string{"license.starface.de"}), tls.VersionTLS10, tls.VersionTLS10)
	probetest.TLSServer(t, l.Cloud, "203.0.113.15:443", origin.Issue(t, []string{"license.starface.de"}), tls.VersionTLS11, tls.VersionTLS11)
	for _, tc := range []struct {
		addr, version string
		status        Status
	}{{"203.0.113.14", "1.0", Fail}, {"203.0.113.15", "1.1", OK}} {
		rep := labProbe(t, l, resolve.Selection{}, tc.addr+" license.starface.de\n", Config{Checks: []string{CheckTLS}, RootCAs: origin.Pool()}, "starface")
		r := find(rep, CheckTLS, "license-https")
		if r == nil || r.Status != tc.status || r.Constraint != "tls-min" || r.TLS.Version != tc.version {
			t.Errorf("starface license-https at %s: %+v", tc.addr, r)
		}
	}
}

// proxyLab is a lab with an origin server in the cloud serving the names
// of Onsight and Pexip on 443 with a certificate from its own CA.
func proxyLab(t *testing.T) (*netlab.Lab, *peers.CA) {
	t.Helper()
	l := netlab.New(t)
	origin := peers.NewCA(t, "Portolan Origin CA")
	probetest.TLSServer(t, l.Cloud, "198.51.100.10:443", origin.Issue(t, []string{"app.librestream.com", "meet.pexip.test"}), tls.VersionTLS12, tls.VersionTLS13)
	return l, origin
}

const proxyPins = "198.51.100.10 app.librestream.com meet.pexip.test\n"

// TestProxyAuth: squid with Basic auth lets the probe through with the
// credentials of the proxy URL and names what is wrong without them; an
// NTLM-only or Digest-only squid is incompatible with Pexip's web app,
// which can do Basic only, and beyond what the probe can test for Onsight.
func TestProxyAuth(t *testing.T) {
	t.Parallel()
	peers.Need(t, "squid", "htpasswd")
	for _, auth := range []string{"basic", "ntlm", "digest"} {
		t.Run(auth, func(t *testing.T) {
			t.Parallel()
			l, origin := proxyLab(t)
			url := peers.Squid(t, l.Cloud, peers.SquidConfig{
				Listen: netip.MustParseAddrPort("198.51.100.10:3128"),
				Auth:   auth, User: "probe", Password: "probepass", Hosts: proxyPins,
			})
			pexip := resolve.Selection{Params: []string{"service_network=meet.pexip.test"}}
			run := func(proxy string, sel resolve.Selection, slug string, endpoints ...string) *Report {
				return labProbe(t, l, sel, proxyPins, Config{
					Checks: []string{CheckProxy, CheckTLS}, Proxy: fixedProxy(proxy), RootCAs: origin.Pool(), Endpoints: endpoints,
				}, slug)
			}
			switch auth {
			case "basic":
				rep := run(url, pexip, "pexip")
				r := find(rep, CheckProxy, "web-app")
				if r == nil || r.Status != OK || r.Proxy.Auth != "basic" || r.Constraint != "proxy-basic-only" {
					t.Errorf("basic with credentials: %+v", r)
				}
				if r := find(rep, CheckTLS, "web-app"); r == nil || r.Status != OK || r.TLS.Inspected {
					t.Errorf("tls through the tunnel: %+v", r)
				}
				if !rep.OK {
					t.Errorf("report fails: %+v", rep.Results)
				}
				for _, tc := range []struct{ proxy, says string }{
					{"http://198.51.100.10:3128", "asks for credentials (offers basic)"},
					{"http://probe:wrong@198.51.100.10:3128", "refused the Basic credentials"},
				} {
					r := find(run(tc.proxy, pexip, "pexip"), CheckProxy, "web-app")
					if r == nil || r.Status != Fail || !strings.Contains(r.Summary, tc.says) {
						t.Errorf("%s: %+v", tc.proxy, r)
					}
				}
			default:
				r := find(run(url, pexip, "pexip"), CheckProxy, "web-app")
				want := "incompatible: the proxy offers only " + auth + "; pexip supports basic only (proxy-basic-only)"
				if r == nil || r.Status != Fail || !r.Required || r.Summary != want {
					t.Errorf("pexip through %s-only squid: %+v, want %q", auth, r, want)
				}
				// Onsight says nothing about proxy authentication: the
				// probe cannot decide, and says so.
				r = find(run(url, resolve.Selection{}, "onsight", "app.librestream.com"), CheckProxy, "proxy-https")
				if r == nil || r.Status != Error || !strings.Contains(r.Summary, "cannot speak") {
					t.Errorf("onsight through %s-only squid: %+v", auth, r)
				}
			}
		})
	}
}

// TestSSLInspection: squid-openssl with ssl-bump re-signs the origin's
// certificate with its own CA: the probe detects it and names that CA,
// and Onsight's and Pexip's ssl-inspection-off constraints fail. A plain
// CONNECT through squid is not flagged.
func TestSSLInspection(t *testing.T) {
	t.Parallel()
	peers.Need(t, "squid", "/usr/lib/squid/security_file_certgen")
	for _, bump := range []bool{true, false} {
		name := "plain"
		if bump {
			name = "bump"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l, origin := proxyLab(t)
			inspector := peers.NewCA(t, "Portolan Inspection CA")
			url := peers.Squid(t, l.Cloud, peers.SquidConfig{
				Listen: netip.MustParseAddrPort("198.51.100.10:3128"), Hosts: proxyPins,
				Bump: bump, BumpCA: inspector, OriginCA: origin,
			})
			cfg := Config{Checks: []string{CheckProxy, CheckTLS}, Proxy: fixedProxy(url), RootCAs: origin.Pool(), Endpoints: []string{"app.librestream.com"}}
			for _, tc := range []struct {
				slug, flow, constraint string
				sel                    resolve.Selection
			}{
				{"onsight", "proxy-https", "ssl-inspection-off", resolve.Selection{}},
				{"pexip", "web-app", "no-ssl-breaking", resolve.Selection{Params: []string{"service_network=meet.pexip.test"}}},
			} {
				c := cfg
				if tc.slug == "pexip" {
					c.Endpoints = nil
				}
				rep := labProbe(t, l, tc.sel, proxyPins, c, tc.slug)
				p := find(rep, CheckProxy, tc.flow)
				r := find(rep, CheckTLS, tc.flow)
				if p == nil || p.Status != OK || r == nil || r.TLS == nil {
					t.Fatalf("%s: proxy %+v tls %+v", tc.slug, p, r)
				}
				if !bump {
					if r.Status != OK || r.TLS.Inspected || !strings.Contains(r.TLS.Issuer, "Portolan Origin CA") {
						t.Errorf("%s plain CONNECT flagged: %s %q", tc.slug, r.Status, r.Summary)
					}
					continue
				}
				if r.Status != Fail || !r.TLS.Inspected || !strings.Contains(r.TLS.InspectedBy, "CN=Portolan Inspection CA") ||
					r.Constraint != tc.constraint || !strings.Contains(r.Summary, "re-signed by CN=Portolan Inspection CA") {
					t.Errorf("%s through ssl-bump: %s %q (constraint %s)", tc.slug, r.Status, r.Summary, r.Constraint)
				}
				if r.TLS.Subject == "" || !strings.Contains(r.TLS.Subject, "CN=") {
					t.Errorf("%s: subject %q", tc.slug, r.TLS.Subject)
				}
				if rep.OK {
					t.Errorf("%s: the report passes although inspection is forbidden", tc.slug)
				}
			}
		})
	}
}
