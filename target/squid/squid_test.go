package squid_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/squid"
	"github.com/portolan/portolan/target/targettest"
)

func squidBin(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("squid")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/squid"); err != nil {
			testenv.SkipOrFail(t, "squid is not installed (apt-get install squid-openssl)")
		}
		p = "/usr/sbin/squid"
	}
	return p
}

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
	bin := squidBin(t)
	dir := t.TempDir()
	_, caKey, caDER := cert(t, "portolan inspection CA", true, nil, nil, nil, nil)
	pemFile(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)
	keyDER, _ := x509.MarshalECPrivateKey(caKey)
	pemFile(t, filepath.Join(dir, "ca.key"), "EC PRIVATE KEY", keyDER)
	n := 0
	for _, m := range targettest.SyntaxMatrix(t) {
		if !strings.HasSuffix(m.Name, "/gateway") {
			continue
		}
		frag, _ := write(t, m.In)
		fp := filepath.Join(dir, "portolan.conf")
		conf := filepath.Join(dir, "squid.conf")
		os.WriteFile(fp, []byte(frag), 0o644)
		os.WriteFile(conf, []byte(fmt.Sprintf("http_port 127.0.0.1:3128 ssl-bump tls-cert=%[2]s/ca.pem tls-key=%[2]s/ca.key generate-host-certificates=off\ninclude %[1]s\nhttp_access deny all\nssl_bump bump all\npid_filename %[2]s/squid.pid\ncache_log %[2]s/cache.log\npinger_enable off\n", fp, dir)), 0o644)
		out, err := exec.Command(bin, "-k", "parse", "-f", conf).CombinedOutput()
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
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select(slugs)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, sel)
	if err != nil {
		t.Fatal(err)
	}
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: resolve.NoResolve{}, AllowUnresolved: true, Site: targettest.Site})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// cert makes a certificate for names and addresses, signed by parent (or
// self-signed when parent is nil).
func cert(t testing.TB, cn string, ca bool, names []string, ips []netip.Addr, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: names, IsCA: ca, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, a := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, a.AsSlice())
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key, der
}

func pemFile(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLiveProxy runs squid with ssl-bump on the lab's router and the
// fragment for Onsight, StarLeaf and Pexip included: allowed names and
// networks connect, others get 403; Onsight's *.librestream.com and
// Pexip's service network are spliced (the client sees the origin's
// certificate), StarLeaf's names are bumped (it sees the inspection CA's).
func TestLiveProxy(t *testing.T) {
	bin := squidBin(t)
	if _, err := os.Stat("/usr/lib/squid/security_file_certgen"); err != nil {
		testenv.SkipOrFail(t, "squid has no ssl-bump here (apt-get install squid-openssl)")
	}
	proxyUser, err := user.Lookup("proxy")
	if err != nil {
		testenv.SkipOrFail(t, "no proxy user for squid: %v", err)
	}
	uid, _ := strconv.Atoi(proxyUser.Uid)
	gid, _ := strconv.Atoi(proxyUser.Gid)
	l := netlab.New(t)

	// squid drops to the proxy user: its files live in a directory it can read.
	dir, err := os.MkdirTemp("", "portolan-squid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	run := filepath.Join(dir, "run")
	os.Mkdir(run, 0o755)

	_, caKey, caDER := cert(t, "portolan inspection CA", true, nil, nil, nil, nil)
	pemFile(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)
	keyDER, _ := x509.MarshalECPrivateKey(caKey)
	pemFile(t, filepath.Join(dir, "ca.key"), "EC PRIVATE KEY", keyDER)

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
	os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts.String()), 0o644)
	_, originKey, originDER := cert(t, "portolan origin", false, names, ips, nil, nil)
	originTLS := tls.Certificate{Certificate: [][]byte{originDER}, PrivateKey: originKey}
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
	os.WriteFile(filepath.Join(dir, "portolan.conf"), []byte(frag), 0o644)
	conf := fmt.Sprintf(`http_port 192.0.2.1:3128 ssl-bump tls-cert=%[1]s/ca.pem tls-key=%[1]s/ca.key generate-host-certificates=on dynamic_cert_mem_cache_size=4MB
sslcrtd_program /usr/lib/squid/security_file_certgen -s %[1]s/ssl_db -M 4MB
sslcrtd_children 2 startup=1 idle=1
tls_outgoing_options flags=DONT_VERIFY_PEER
hosts_file %[1]s/hosts
dns_nameservers 127.0.0.1
acl SSL_ports port 443 8443
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
include %[1]s/portolan.conf
http_access deny all
ssl_bump bump all
pid_filename %[1]s/run/squid.pid
cache_log %[1]s/run/cache.log
access_log stdio:%[1]s/run/access.log
cache deny all
coredump_dir %[1]s/run
pinger_enable off
shutdown_lifetime 1 seconds
`, dir)
	os.WriteFile(filepath.Join(dir, "squid.conf"), []byte(conf), 0o644)
	if out, err := exec.Command("/usr/lib/squid/security_file_certgen", "-c", "-s", filepath.Join(dir, "ssl_db"), "-M", "4MB").CombinedOutput(); err != nil {
		t.Fatalf("security_file_certgen: %v %s", err, out)
	}
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })

	cmd := l.Router.Command(bin, "-N", "-f", filepath.Join(dir, "squid.conf"))
	var logb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logb, &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	proxy := "192.0.2.1:3128"
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := l.LAN.Dial("tcp", proxy, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(run, "cache.log"))
			t.Fatalf("squid exited: %s\n%s", logb.String(), lastLines(log))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("squid does not listen on %s", proxy)
		}
		time.Sleep(100 * time.Millisecond)
	}

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
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(run, "cache.log"))
		t.Logf("squid cache.log:\n%s", lastLines(log))
	}
}

// bufConn reads first what the bufio.Reader already holds.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }
