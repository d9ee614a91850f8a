package peers

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/testenv"
)

// certgen is squid-openssl's helper that makes the certificates of ssl-bump.
const certgen = "/usr/lib/squid/security_file_certgen"

// SquidConfig says what squid to start.
type SquidConfig struct {
	Listen netip.AddrPort
	// Auth is "" (none), "basic", "ntlm" (any credentials pass) or
	// "digest"; User and Password are the Basic or Digest credentials.
	Auth, User, Password string
	// Bump makes squid an SSL-inspecting proxy: it peeks at the client's
	// hello and re-signs every certificate it does not splice with BumpCA.
	Bump   bool
	BumpCA *CA
	// OriginCA is the CA squid trusts for origins (with Bump).
	OriginCA *CA
	// Hosts pins names for squid (hosts(5) text), so it asks no DNS.
	Hosts string
	// Ports are the CONNECT ports allowed besides 443 (http_access deny
	// CONNECT !SSL_ports comes before everything else).
	Ports []int
	// Include is a squid.conf fragment (portolan's) included after the
	// SSL_ports rule and before http_access deny all; its ssl_bump lines
	// come before those of Bump. With Include and no Auth only what it
	// allows passes; with neither, everything does.
	Include string
}

// Squid starts squid -N inside ns, waits until it listens and returns its
// proxy URL (with the credentials). Its files live in a directory of
// their own with absolute paths; what it writes, in a run directory owned
// by the proxy user it drops to. The pinger is off, and squid stops within
// a second when the test ends.
func Squid(t testing.TB, ns *netlab.NS, c SquidConfig) string {
	t.Helper()
	Need(t, "squid")
	u, err := user.Lookup("proxy")
	if err != nil {
		testenv.SkipOrFail(t, "no user proxy for squid: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := Dir(t, "portolan-squid-")
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(run, uid, gid); err != nil {
		t.Fatal(err)
	}
	hosts := WriteFile(t, dir, "hosts", []byte(c.Hosts+"\n"))
	ports := []string{"443"}
	for _, p := range c.Ports {
		ports = append(ports, strconv.Itoa(p))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "http_port %s", c.Listen)
	if c.Bump {
		Need(t, certgen)
		if c.BumpCA == nil {
			t.Fatal("peers.Squid: Bump without a BumpCA")
		}
		caFile := WriteFile(t, dir, "bump-ca.pem", append(append([]byte{}, c.BumpCA.PEM...), c.BumpCA.KeyPEM...))
		db := filepath.Join(run, "ssl_db")
		// The certificate database is made by the helper itself, as the
		// proxy user.
		if out, err := exec.Command("runuser", "-u", "proxy", "--", certgen, "-c", "-s", db, "-M", "4MB").CombinedOutput(); err != nil {
			t.Fatalf("%s -c: %v: %s", certgen, err, out)
		}
		fmt.Fprintf(&b, " ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert=%s\n", caFile)
		fmt.Fprintf(&b, "sslcrtd_program %s -s %s -M 4MB\nsslcrtd_children 2 startup=1 idle=1\n", certgen, db)
		if c.OriginCA != nil {
			fmt.Fprintf(&b, "tls_outgoing_options cafile=%s\n", WriteFile(t, dir, "origin-ca.pem", c.OriginCA.PEM))
		}
	} else {
		b.WriteString("\n")
	}
	switch c.Auth {
	case "":
	case "basic":
		Need(t, "htpasswd")
		pw := filepath.Join(dir, "passwd")
		if out, err := exec.Command("htpasswd", "-b", "-c", pw, c.User, c.Password).CombinedOutput(); err != nil {
			t.Fatalf("htpasswd: %v: %s", err, out)
		}
		if err := os.Chmod(pw, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "auth_param basic program /usr/lib/squid/basic_ncsa_auth %s\nauth_param basic realm portolan-test\n", pw)
	case "ntlm":
		b.WriteString("auth_param ntlm program /usr/lib/squid/ntlm_fake_auth\nauth_param ntlm children 2\n")
	case "digest":
		pw := WriteFile(t, dir, "digest", []byte(c.User+":"+c.Password+"\n"))
		fmt.Fprintf(&b, "auth_param digest program /usr/lib/squid/digest_file_auth %s\nauth_param digest realm portolan-test\nauth_param digest children 2\n", pw)
	default:
		t.Fatalf("peers.Squid: unknown auth %q", c.Auth)
	}
	// Before auth: a CONNECT to a port not listed is a 403, not a 407.
	fmt.Fprintf(&b, "acl SSL_ports port %s\nacl CONNECT method CONNECT\nhttp_access deny CONNECT !SSL_ports\n", strings.Join(ports, " "))
	if c.Include != "" {
		fmt.Fprintf(&b, "include %s\n", WriteFile(t, dir, "include.conf", []byte(c.Include)))
	}
	switch {
	case c.Auth != "":
		b.WriteString("acl authed proxy_auth REQUIRED\nhttp_access allow authed\n")
	case c.Include == "":
		b.WriteString("http_access allow all\n")
	}
	b.WriteString("http_access deny all\n")
	if c.Bump {
		b.WriteString("acl step1 at_step SslBump1\nssl_bump peek step1\nssl_bump bump all\n")
	}
	log := filepath.Join(run, "cache.log")
	fmt.Fprintf(&b, `cache deny all
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
	p := Start(t, ns, dir, log, "squid", "-N", "-f", conf)
	p.WaitTCP(t, c.Listen.String())
	url := "http://"
	if c.User != "" {
		url += c.User + ":" + c.Password + "@"
	}
	return url + c.Listen.String()
}
