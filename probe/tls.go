package probe

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// TLSInfo is what a TLS handshake showed.
type TLSInfo struct {
	ServerName string `json:"server_name,omitempty"`
	Version    string `json:"version,omitempty"`
	Cipher     string `json:"cipher,omitempty"`
	// MinVersion is the document's minimum (tls-min), when it has one.
	MinVersion  string    `json:"min_version,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	SANs        []string  `json:"sans,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	Fingerprint string    `json:"sha256,omitempty"`
	Verified    bool      `json:"verified"`
	VerifyError string    `json:"verify_error,omitempty"`
	// Inspected: a middlebox re-signed the certificate; InspectedBy names
	// the issuer it re-signed it with.
	Inspected   bool   `json:"inspected"`
	InspectedBy string `json:"inspected_by,omitempty"`
}

var tlsVersions = map[uint16]string{
	tls.VersionTLS10: "1.0", tls.VersionTLS11: "1.1", tls.VersionTLS12: "1.2", tls.VersionTLS13: "1.3",
}

func parseTLSVersion(s string) uint16 {
	for v, name := range tlsVersions {
		if name == strings.TrimPrefix(strings.ToLower(s), "tls") {
			return v
		}
	}
	return 0
}

// inspectionIssuers are words in the issuer of certificates that SSL
// inspection products mint: a certificate from them is re-signed even
// when this machine trusts their CA (as managed machines are made to).
var inspectionIssuers = []string{
	"zscaler", "fortinet", "fortigate", "palo alto", "paloalto", "sophos", "netskope",
	"blue coat", "bluecoat", "forcepoint", "websense", "check point", "checkpoint",
	"barracuda", "watchguard", "sonicwall", "cisco umbrella", "opendns", "mcafee web gateway",
	"skyhigh", "kaspersky", "eset ssl filter", "avast", "bitdefender", "mitmproxy",
	"portswigger", "burp", "charles proxy", "fiddler", "squid", "untangle", "smoothwall",
	"lightspeed", "securly", "iboss", "menlo security", "cyberoam", "contentkeeper",
}

// tlsProbe shakes hands over conn as a client that accepts TLS 1.0 to 1.3
// (to see what the path really negotiates), then verifies the chain
// against the roots for name (or the address when there is no name) and
// looks for signs of inspection.
func tlsProbe(ctx context.Context, env *runEnv, conn net.Conn, name string, addr netip.Addr) (*TLSInfo, error) {
	cfg := &tls.Config{
		ServerName:         name,
		MinVersion:         tls.VersionTLS10,
		InsecureSkipVerify: true, // verified below, to report why not
		NextProtos:         nil,
	}
	tc := tls.Client(conn, cfg)
	hctx, cancel := context.WithTimeout(ctx, env.cfg.Timeout)
	defer cancel()
	info := &TLSInfo{ServerName: name}
	if err := tc.HandshakeContext(hctx); err != nil {
		return info, err
	}
	st := tc.ConnectionState()
	info.Version = tlsVersions[st.Version]
	info.Cipher = tls.CipherSuiteName(st.CipherSuite)
	if len(st.PeerCertificates) == 0 {
		return info, errors.New("the server sent no certificate")
	}
	leaf := st.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	info.Fingerprint = hex.EncodeToString(sum[:])
	info.Subject = leaf.Subject.String()
	info.Issuer = leaf.Issuer.String()
	info.SANs = append(info.SANs, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		info.SANs = append(info.SANs, ip.String())
	}
	info.NotAfter = leaf.NotAfter
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	host := name
	if host == "" {
		host = addr.String()
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: env.cfg.RootCAs, Intermediates: inter})
	info.Verified = err == nil
	if err != nil {
		info.VerifyError = err.Error()
	}
	var ua x509.UnknownAuthorityError
	matchesName := leaf.VerifyHostname(host) == nil
	selfSigned := leaf.Subject.String() == leaf.Issuer.String()
	switch {
	case errors.As(err, &ua) && matchesName && !selfSigned:
		// A certificate for the very name asked for, from a CA no root
		// here knows: what an inspecting middlebox mints on the fly.
		info.Inspected, info.InspectedBy = true, info.Issuer
	case info.Verified && knownInspector(leaf):
		info.Inspected, info.InspectedBy = true, info.Issuer
	}
	return info, nil
}

func knownInspector(c *x509.Certificate) bool {
	s := strings.ToLower(c.Issuer.String())
	for _, w := range inspectionIssuers {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// tlsResult judges a handshake against the flow's constraints.
func tlsResult(fp *flowPlan, target, via string, info *TLSInfo, err error) Result {
	r := base(fp, CheckTLS)
	r.Target, r.Via, r.TLS = target, via, info
	var problems []string
	status := OK
	worse := func(s Status) {
		if rank(s) < rank(status) {
			status = s
		}
	}
	if err != nil {
		r.Status, r.Summary = Fail, err.Error()
		if info != nil { // the handshake itself failed
			r.Summary = "TLS handshake failed: " + r.Summary
		}
		if fp.tlsMin != nil {
			r.Constraint = fp.tlsMin.ID
		}
		return r
	}
	r.Details = append(r.Details,
		fmt.Sprintf("TLS %s, %s", info.Version, info.Cipher),
		"certificate: "+info.Subject+"; issuer: "+info.Issuer,
		"sha256 "+info.Fingerprint)
	if k := fp.tlsMin; k != nil {
		info.MinVersion = k.MinVersion
		r.Constraint = k.ID
		if min := parseTLSVersion(k.MinVersion); min != 0 && parseTLSVersion(info.Version) < min {
			worse(Fail)
			problems = append(problems, fmt.Sprintf("negotiated TLS %s, below the %s the document asks for (%s)", info.Version, k.MinVersion, k.ID))
		}
	}
	if info.Inspected {
		msg := "SSL inspection: the certificate was re-signed by " + info.InspectedBy
		if k := fp.noInspect; k != nil {
			worse(Fail)
			r.Constraint = k.ID
			msg += "; the document asks for none on this traffic (" + k.ID + ")"
		} else {
			worse(Warn)
		}
		problems = append(problems, msg)
	} else if !info.Verified {
		worse(Fail)
		problems = append(problems, "certificate not trusted: "+info.VerifyError)
	}
	r.Status = status
	if len(problems) > 0 {
		r.Summary = strings.Join(problems, "; ")
		return r
	}
	r.Summary = fmt.Sprintf("TLS %s, certificate verified", info.Version)
	if fp.tlsMin != nil {
		r.Summary += fmt.Sprintf(" (at least %s asked)", fp.tlsMin.MinVersion)
	}
	if fp.noInspect != nil {
		r.Summary += ", not inspected"
	}
	return r
}

// rank orders statuses from worst (0) to best.
func rank(s Status) int {
	for i, x := range Statuses {
		if x == s {
			return i
		}
	}
	return len(Statuses)
}
