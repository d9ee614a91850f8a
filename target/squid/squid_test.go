package squid_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/peers"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/squid"
	"github.com/portolan/portolan/target/targettest"
)

func write(t testing.TB, in *target.Input) (string, target.Result) {
	t.Helper()
	var b bytes.Buffer
	res, err := (squid.Target{}).Write(&b, in)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), res
}

// TestParse has squid itself (squid -k parse) read the fragment of every
// service and feature selection, included in a minimal squid.conf; an
// ERROR or WARNING fails the test as much as a non-zero exit.
func TestParse(t *testing.T) {
	peers.Need(t, "squid")
	dir := t.TempDir()
	ca := peers.NewCA(t, "portolan inspection CA")
	peers.WriteFile(t, dir, "ca.pem", ca.PEM)
	peers.WriteFile(t, dir, "ca.key", ca.KeyPEM)
	n := 0
	for _, m := range targettest.SyntaxMatrix(t) {
		if !strings.HasSuffix(m.Name, "/gateway") {
			continue
		}
		frag, _ := write(t, m.In)
		fp := peers.WriteFile(t, dir, "portolan.conf", []byte(frag))
		conf := peers.WriteFile(t, dir, "squid.conf", []byte(fmt.Sprintf("http_port 127.0.0.1:3128 ssl-bump tls-cert=%[2]s/ca.pem tls-key=%[2]s/ca.key generate-host-certificates=off\ninclude %[1]s\nhttp_access deny all\nssl_bump bump all\npid_filename %[2]s/squid.pid\ncache_log %[2]s/cache.log\npinger_enable off\n", fp, dir)))
		out, err := exec.Command("squid", "-k", "parse", "-f", conf).CombinedOutput()
		if err != nil {
			t.Errorf("%s: squid -k parse: %v\n%s\n%s", m.Name, err, lastLines(out), frag)
			continue
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "ERROR") || strings.Contains(l, "WARNING") {
				t.Errorf("%s: %s", m.Name, l)
			}
		}
		n++
	}
	t.Logf("squid -k parse read %d fragments", n)
}

func lastLines(b []byte) string {
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(ls) > 5 {
		ls = ls[len(ls)-5:]
	}
	return strings.Join(ls, "\n")
}

func TestDomains(t *testing.T) {
	got := strings.Join(squid.Domains([]string{"sip.librestream.com", ".librestream.com", "librestream.com", "acme.call.sl", "acme.call.sl", "b.example.com"}), " ")
	if want := ".librestream.com acme.call.sl b.example.com"; got != want {
		t.Errorf("Domains = %q, want %q", got, want)
	}
}

func input(t testing.TB, slugs []string, sel resolve.Selection) *target.Input {
	t.Helper()
	return targettest.Prepare(t, slugs, sel, "", targettest.Site, target.Options{})
}

// TestLiveProxy runs squid with ssl-bump on the lab's router and the
// fragment for Onsight, StarLeaf and Pexip included: allowed names and
// networks connect, others get 403; Onsight's *.librestream.com and
// Pexip's service network are spliced (the client sees the origin's
// certificate), StarLeaf's names are bumped (it sees the inspection CA's).
func TestLiveProxy(t *testing.T) {
	peers.Need(t, "squid", "/usr/lib/squid/security_file_certgen")
	l := netlab.New(t)
	inspection := peers.NewCA(t, "portolan inspection CA")
	originCA := peers.NewCA(t, "portolan origin")

	origins := map[string]netip.Addr{
		"config.starleaf.com": netip.MustParseAddr("203.0.113.30"),
		"x.librestream.com":   netip.MustParseAddr("203.0.113.40"),
		"evil.example.net":    netip.MustParseAddr("203.0.113.50"),
	}
	var hosts strings.Builder
	var names []string
	ips := []netip.Addr{netlab.CloudHost}
	for n, a := range origins {
		fmt.Fprintf(&hosts, "%s %s\n", a, n)
		names = append(names, n)
		ips = append(ips, a)
		if err := l.AddCloudAddr(a); err != nil {
			t.Fatal(err)
		}
	}
	originTLS := originCA.Issue(t, names, ips...)
	for _, port := range []string{"443", "8443"} {
		ln, err := l.Cloud.Listen("tcp", ":"+port)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "origin "+r.Host) })}
		go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{originTLS}}))
		t.Cleanup(func() { srv.Close() })
	}

	in := input(t, []string{"onsight", "starleaf", "pexip"}, resolve.Selection{Params: []string{"company=acme", "service_network=198.51.100.0/24"}})
	frag, _ := write(t, in)
	const proxy = "192.0.2.1:3128"
	peers.Squid(t, l.Router, peers.SquidConfig{
		Listen: netip.MustParseAddrPort(proxy), Hosts: hosts.String(), Ports: []int{8443},
		Bump: true, BumpCA: inspection, OriginCA: originCA, Include: frag,
	})

	// connect asks the proxy for host:port and returns the status code and,
	// after a 200, the issuer of the certificate the client sees and the
	// body of a request through the tunnel.
	connect := func(hostport, sni string) (int, string, string) {
		c, err := l.LAN.Dial("tcp", proxy, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", hostport, hostport)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatalf("CONNECT %s: %v", hostport, err)
		}
		if resp.StatusCode != 200 {
			return resp.StatusCode, "", ""
		}
		tc := tls.Client(&bufConn{c, br}, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS through the proxy to %s: %v", hostport, err)
		}
		issuer := tc.ConnectionState().PeerCertificates[0].Issuer.CommonName
		fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", hostport)
		body, _ := io.ReadAll(tc)
		return 200, issuer, string(body)
	}
	// A denied CONNECT on an ssl-bump port is answered 200 and bumped, to
	// show the error page inside the tunnel: denied means the request in
	// the tunnel gets squid's ERR_ACCESS_DENIED, not the origin.
	tests := []struct {
		hostport, sni string
		allowed       bool
		issuer        string
	}{
		{"config.starleaf.com:443", "config.starleaf.com", true, "portolan inspection CA"}, // allowed, inspected
		{"x.librestream.com:443", "x.librestream.com", true, "portolan origin"},            // allowed, spliced: no inspection
		{"198.51.100.10:443", "", true, "portolan origin"},                                 // Pexip's service network, spliced
		{"evil.example.net:443", "evil.example.net", false, ""},                            // not on the list
		{"config.starleaf.com:8443", "config.starleaf.com", false, ""},                     // the list's name, not its port
	}
	for _, tt := range tests {
		code, issuer, body := connect(tt.hostport, tt.sni)
		reached := code == 200 && strings.Contains(body, "\r\n\r\norigin ")
		denied := code == 403 || code == 200 && strings.Contains(body, "ERR_ACCESS_DENIED")
		switch {
		case tt.allowed && !reached:
			t.Errorf("CONNECT %s: %d, not through to the origin: %.200q", tt.hostport, code, body)
		case tt.allowed && issuer != tt.issuer:
			t.Errorf("CONNECT %s: certificate issued by %q, want %q", tt.hostport, issuer, tt.issuer)
		case !tt.allowed && (reached || !denied):
			t.Errorf("CONNECT %s: %d, not denied: %.200q", tt.hostport, code, body)
		}
	}
}

// bufConn reads first what the bufio.Reader already holds.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestSaysWhatItLeavesOut: every flow the options take in is either in
// the allow-list or named, with why, on stderr (the notes) and in the
// output's comments: UDP, inbound and other non-web flows, and UDP to
// wildcard domains, which nothing but a DNS-aware firewall can allow.
func TestSaysWhatItLeavesOut(t *testing.T) {
	wild := `service: {slug: wild, name: Wild, vendor: tests, document: wild.txt, language: en}
roles:
  - {name: endpoint, description: an endpoint}
hosts:
  - {name: media, description: media relays, entries: ["*.media.example.com"]}
flows:
  - {id: media, direction: outbound, proto: [udp], ports: [3478], local: endpoint, remote: [media], necessity: required, app: stun, purpose: {en: media}, source: {quote: q, line: 1}}
  - {id: web, direction: outbound, proto: [tcp], ports: [443], local: endpoint, remote: [media], necessity: required, app: https, purpose: {en: web}, source: {quote: q, line: 2}}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wild.yaml"), []byte(wild), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := cat.Select([]string{"wild"})
	cs, err := resolve.Choose(svcs, resolve.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	wildIn, err := target.Prepare(context.Background(), target.Config{Choices: cs, AllowUnresolved: true, Site: targettest.Site})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   *target.Input
		want []string
	}{
		{"starleaf", input(t, []string{"starleaf"}, resolve.Selection{Params: []string{"company=acme"}}),
			[]string{"skipped: starleaf/tunnel-udp: UDP, which a web proxy does not carry"}},
		{"starface inbound", input(t, []string{"starface"}, resolve.Selection{AllFeatures: true, Params: []string{"pbx_address=192.0.2.10", "sip_provider=198.51.100.0/24", "pbx_peers=203.0.113.180"}}),
			[]string{": inbound, which a web proxy does not carry", "starface/sip-provider-tcp", ": not web traffic"}},
		{"udp to wildcards", wildIn,
			[]string{"skipped: wild/media: UDP to wildcard domains only (*.media.example.com), which neither a web proxy nor an address list can allow; a DNS-aware firewall can"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, res := write(t, tt.in)
			notes := strings.Join(res.Notes, "\n")
			for _, w := range tt.want {
				if !strings.Contains(notes, w) {
					t.Errorf("notes lack %q:\n%s", w, notes)
				}
			}
			flat := strings.Join(strings.Fields(strings.ReplaceAll(out, "#", "")), " ")
			for _, n := range res.Notes {
				if !strings.Contains(flat, strings.Join(strings.Fields(n), " ")) {
					t.Errorf("the output's comments lack the note %q", n)
				}
			}
			for i := range tt.in.Flows {
				ref := target.FlowRef(&tt.in.Flows[i])
				if !strings.Contains(out, "# "+ref+" (") && !regexp.MustCompile(`(^|[ ,])`+regexp.QuoteMeta(ref)+`[,:]`).MatchString(notes) {
					t.Errorf("%s is neither in the allow-list nor said to be left out", ref)
				}
			}
		})
	}
}
