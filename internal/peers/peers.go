// Package peers runs the real peers that tests talk to — squid, or any
// program started in a netlab namespace — and makes what they need: a
// certificate authority, files in a directory the peer's user can read.
// Every peer is stopped, and its directory removed, when the test ends.
// Like net/http/httptest, it is for tests only.
package peers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/testenv"
)

// Need fails or skips the test (testenv.SkipOrFail) when a program, named
// as found on $PATH or by its absolute path, is missing.
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
	der, key := sign(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"portolan tests"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
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

// Issue makes a server certificate for the names (the first is its CN)
// and addresses, signed by the CA.
func (ca *CA) Issue(t testing.TB, names []string, addrs ...netip.Addr) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0], Organization: []string{"portolan origin"}},
		DNSNames:    names,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, a := range addrs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, key := sign(t, tmpl, ca)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// sign makes a key and a certificate from tmpl, valid from an hour ago
// for a day, signed by ca (self-signed when ca is nil).
func sign(t testing.TB, tmpl *x509.Certificate, ca *CA) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	parent, parentKey := tmpl, key
	if ca != nil {
		parent, parentKey = ca.Cert, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// WriteFile writes data to dir/name (mode 0644) and returns the path.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Dir makes a directory every user can read (peers such as squid drop to
// their own user), removed when the test ends. Its path is absolute, as
// peers want (coturn silently ignores a relative config path).
func Dir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Proc is a peer process started in a namespace.
type Proc struct {
	Cmd *exec.Cmd
	NS  *netlab.NS
	Dir string
	Log string // a file the peer logs to, shown when the test fails

	name string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// Start runs the program in ns with its output in dir/stdout. When the
// test ends it stops the process by its PID (SIGTERM, SIGKILL after 5 s)
// and, if the test failed, shows the tails of dir/stdout and of log.
func Start(t testing.TB, ns *netlab.NS, dir, log string, name string, args ...string) *Proc {
	t.Helper()
	cmd := ns.Command(name, args...)
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("%s: %v", name, err)
	}
	p := &Proc{Cmd: cmd, NS: ns, Dir: dir, Log: log, name: name, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
		out.Close()
		if t.Failed() {
			p.logTails(t)
		}
	})
	return p
}

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.done }

func (p *Proc) logTails(t testing.TB) {
	t.Helper()
	for _, f := range []string{filepath.Join(p.Dir, "stdout"), p.Log} {
		if f == "" {
			continue
		}
		if b, err := os.ReadFile(f); err == nil && len(b) > 0 {
			t.Logf("%s:\n%s", f, tail(b, 3000))
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// WaitTCP waits up to 15 s until addr accepts connections from inside the
// peer's namespace. The test fails at once if the peer exits meanwhile.
func (p *Proc) WaitTCP(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := p.NS.Dial("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before listening on %s", p.name, p.err, addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("nothing listens on %s after 15 s", addr)
}
