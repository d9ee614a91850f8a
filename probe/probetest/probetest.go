// Package probetest starts the real peers the probe's tests talk to —
// coturn, squid (Basic, NTLM, Digest, ssl-bump), TLS origins, a portolan
// reflector — inside netlab namespaces, and stops them when the test ends.
// Like net/http/httptest, it is for tests only.
package probetest

import (
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

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/reflector"
)

// Network makes the probe's sockets inside a namespace.
type Network struct{ NS *netlab.NS }

// DialContext dials from inside the namespace.
func (n Network) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := n.NS.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
		return
	})
	return c, err
}

// ListenPacket listens inside the namespace.
func (n Network) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.NS.Do(func() (err error) {
		var lc net.ListenConfig
		c, err = lc.ListenPacket(ctx, network, address)
		return
	})
	return c, err
}

// Need fails or skips the test (testenv.SkipOrFail) when a program is
// missing.
func Need(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if _, err := os.Stat(p); err != nil {
				testenv.SkipOrFail(t, "%s is not installed (make deps)", p)
			}
		}
	}
}

// CA is a certificate authority made for one test.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// PEM is the certificate; KeyPEM the key.
	PEM, KeyPEM []byte
}

// NewCA makes a CA whose subject is CN=name, O=portolan tests.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"portolan tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	return &CA{Cert: cert, Key: key,
		PEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})}
}

// Pool returns a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue makes a server certificate for the names and addresses.
func (ca *CA) Issue(t testing.TB, names []string, addrs ...netip.Addr) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"portolan origin"}},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, a := range addrs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// WriteFile writes data to dir/name and returns the path.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TLSServer accepts TLS connections at addr inside ns with cert and the
// versions between min and max, completes each handshake and closes.
func TLSServer(t testing.TB, ns *netlab.NS, addr string, cert tls.Certificate, min, max uint16) {
	t.Helper()
	l, err := ns.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("tls server %s: %v", addr, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: min, MaxVersion: max}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					io.Copy(io.Discard, tc)
				}
			}()
		}
	}()
}

// Reflector starts a reflector inside ns.
func Reflector(t testing.TB, ns *netlab.NS, cfg reflector.Config) *reflector.Server {
	t.Helper()
	srv, err := reflector.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Do(srv.Start); err != nil {
		t.Fatalf("reflector: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// Proc is a peer process started in a namespace.
type Proc struct {
	Cmd *exec.Cmd
	Dir string
	Log string // a file the peer logs to, shown when the test fails
}

// start runs the command in ns, stops it (SIGTERM, then SIGKILL) when the
// test ends and shows its log when the test failed.
func start(t testing.TB, ns *netlab.NS, dir, log string, name string, args ...string) *Proc {
	t.Helper()
	cmd := ns.Command(name, args...)
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := &Proc{Cmd: cmd, Dir: dir, Log: log}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		out.Close()
		if t.Failed() {
			for _, f := range []string{filepath.Join(dir, "stdout"), log} {
				if b, err := os.ReadFile(f); err == nil && len(b) > 0 {
					t.Logf("%s:\n%s", f, tail(b, 3000))
				}
			}
		}
	})
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// WaitTCP waits until addr accepts connections from inside ns.
func WaitTCP(t testing.TB, ns *netlab.NS, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := ns.Dial("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after 10 s", addr)
}

// peerDir makes a directory the proxy user can read (squid drops to it),
// removed at the end.
func peerDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Coturn starts turnserver as a STUN server at addr:port inside ns.
func Coturn(t testing.TB, ns *netlab.NS, addr netip.Addr, port int) *Proc {
	t.Helper()
	Need(t, "turnserver")
	dir := peerDir(t, "portolan-coturn-")
	log := filepath.Join(dir, "turn.log")
	conf := fmt.Sprintf(`listening-ip=%s
listening-port=%d
no-tls
no-dtls
no-cli
stun-only
fingerprint
pidfile=%s
userdb=%s
log-file=%s
simple-log
no-stdout-log
`, addr, port, filepath.Join(dir, "turnserver.pid"), filepath.Join(dir, "turndb"), log)
	cf := WriteFile(t, dir, "turnserver.conf", []byte(conf))
	p := start(t, ns, dir, log, "turnserver", "-c", cf)
	// Wait until it answers a binding request.
	deadline := time.Now().Add(10 * time.Second)
	req := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for time.Now().Before(deadline) {
		c, err := ns.Dial("udp", netip.AddrPortFrom(addr, uint16(port)).String(), time.Second)
		if err == nil {
			c.Write(req)
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			c.Close()
			if err == nil && n >= 20 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("coturn does not answer on %s:%d", addr, port)
	return nil
}

// SquidConfig says what squid to start.
type SquidConfig struct {
	Listen netip.AddrPort
	// Auth is "" (none), "basic", "ntlm" or "digest"; User and Password
	// are the Basic or Digest credentials.
	Auth, User, Password string
	// Bump makes squid an SSL-inspecting proxy: it re-signs every
	// certificate with BumpCA.
	Bump   bool
	BumpCA *CA
	// OriginCA is the CA squid trusts for origins (with Bump).
	OriginCA *CA
	// Hosts pins names for squid (hosts(5) text), so it asks no DNS.
	Hosts string
	// Ports are the CONNECT ports allowed besides 443.
	Ports []int
}

// Squid starts squid inside ns and returns its proxy URL (with the
// credentials).
func Squid(t testing.TB, ns *netlab.NS, c SquidConfig) string {
	t.Helper()
	Need(t, "squid")
	u, err := user.Lookup("proxy")
	if err != nil {
		testenv.SkipOrFail(t, "no user proxy for squid: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := peerDir(t, "portolan-squid-")
	run := filepath.Join(dir, "run")
	os.Mkdir(run, 0o755)
	os.Chown(run, uid, gid)
	hosts := WriteFile(t, dir, "hosts", []byte(c.Hosts+"\n"))
	ports := []string{"443"}
	for _, p := range c.Ports {
		ports = append(ports, strconv.Itoa(p))
	}
	var b strings.Builder
	port := fmt.Sprintf("http_port %s", c.Listen)
	if c.Bump {
		Need(t, "/usr/lib/squid/security_file_certgen")
		caFile := WriteFile(t, dir, "bump-ca.pem", append(append([]byte{}, c.BumpCA.PEM...), c.BumpCA.KeyPEM...))
		db := filepath.Join(run, "ssl_db")
		// The certificate database is made by the helper itself, as the
		// proxy user.
		if out, err := exec.Command("runuser", "-u", "proxy", "--", "/usr/lib/squid/security_file_certgen", "-c", "-s", db, "-M", "4MB").CombinedOutput(); err != nil {
			t.Fatalf("security_file_certgen -c: %v: %s", err, out)
		}
		port += fmt.Sprintf(" ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert=%s", caFile)
		fmt.Fprintf(&b, "sslcrtd_program /usr/lib/squid/security_file_certgen -s %s -M 4MB\nsslcrtd_children 2 startup=1 idle=1\n", db)
		fmt.Fprintf(&b, "acl step1 at_step SslBump1\nssl_bump peek step1\nssl_bump bump all\n")
		if c.OriginCA != nil {
			fmt.Fprintf(&b, "tls_outgoing_options cafile=%s\n", WriteFile(t, dir, "origin-ca.pem", c.OriginCA.PEM))
		}
	}
	fmt.Fprintf(&b, "%s\n", port)
	switch c.Auth {
	case "basic":
		Need(t, "htpasswd")
		pw := filepath.Join(dir, "passwd")
		if out, err := exec.Command("htpasswd", "-b", "-c", pw, c.User, c.Password).CombinedOutput(); err != nil {
			t.Fatalf("htpasswd: %v: %s", err, out)
		}
		os.Chmod(pw, 0o644)
		fmt.Fprintf(&b, "auth_param basic program /usr/lib/squid/basic_ncsa_auth %s\nauth_param basic realm portolan-test\n", pw)
	case "ntlm":
		fmt.Fprintf(&b, "auth_param ntlm program /usr/lib/squid/ntlm_fake_auth\nauth_param ntlm children 2\n")
	case "digest":
		pw := WriteFile(t, dir, "digest", []byte(c.User+":"+c.Password+"\n"))
		fmt.Fprintf(&b, "auth_param digest program /usr/lib/squid/digest_file_auth %s\nauth_param digest realm portolan-test\nauth_param digest children 2\n", pw)
	}
	fmt.Fprintf(&b, "acl SSL_ports port %s\nacl CONNECT method CONNECT\nhttp_access deny CONNECT !SSL_ports\n", strings.Join(ports, " "))
	if c.Auth != "" {
		b.WriteString("acl authed proxy_auth REQUIRED\nhttp_access allow authed\n")
	} else {
		b.WriteString("http_access allow all\n")
	}
	log := filepath.Join(run, "cache.log")
	fmt.Fprintf(&b, `http_access deny all
cache deny all
hosts_file %s
dns_nameservers 127.0.0.1
pid_filename %s
access_log stdio:%s
cache_log %s
coredump_dir %s
pinger_enable off
shutdown_lifetime 1 seconds
`, hosts, filepath.Join(run, "squid.pid"), filepath.Join(run, "access.log"), log, run)
	conf := WriteFile(t, dir, "squid.conf", []byte(b.String()))
	start(t, ns, dir, log, "squid", "-N", "-f", conf)
	WaitTCP(t, ns, c.Listen.String())
	url := "http://"
	if c.User != "" {
		url += c.User + ":" + c.Password + "@"
	}
	return url + c.Listen.String()
}
