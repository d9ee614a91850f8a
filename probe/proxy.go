package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ProxyInfo is what the web proxy answered to CONNECT.
type ProxyInfo struct {
	Proxy  string `json:"proxy"`
	Target string `json:"target"`
	Status int    `json:"status,omitempty"`
	// Offered are the authentication schemes the proxy asked for
	// (Proxy-Authenticate), lower-case; Auth the one used.
	Offered []string `json:"offered,omitempty"`
	Auth    string   `json:"auth,omitempty"`
}

// proxyConn is a tunnel through the proxy; reads drain what the proxy's
// answer left buffered first.
type proxyConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *proxyConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// proxyConnect opens a CONNECT tunnel to target (host:port) through proxy.
// Without credentials it asks first without, to learn the schemes the
// proxy offers; with Basic credentials in the proxy URL it answers a
// Basic challenge with them.
func proxyConnect(ctx context.Context, env *runEnv, proxy *url.URL, target string) (net.Conn, *ProxyInfo, error) {
	info := &ProxyInfo{Proxy: redactURL(proxy), Target: target}
	auth := ""
	for attempt := 0; attempt < 2; attempt++ {
		c, err := dialProxy(ctx, env, proxy)
		if err != nil {
			return nil, info, fmt.Errorf("cannot reach the proxy %s: %s", proxy.Host, describeDialError(err, env.cfg.Timeout))
		}
		c.SetDeadline(time.Now().Add(env.cfg.Timeout))
		req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\nUser-Agent: portolan-probe\r\n"
		if auth != "" {
			req += "Proxy-Authorization: " + auth + "\r\n"
		}
		if _, err := c.Write([]byte(req + "\r\n")); err != nil {
			c.Close()
			return nil, info, fmt.Errorf("proxy %s: %v", proxy.Host, err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			c.Close()
			return nil, info, fmt.Errorf("proxy %s: no HTTP answer to CONNECT: %v", proxy.Host, err)
		}
		info.Status = resp.StatusCode
		if resp.StatusCode == http.StatusOK {
			c.SetDeadline(time.Time{})
			return &proxyConn{Conn: c, r: br}, info, nil
		}
		for _, v := range resp.Header.Values("Proxy-Authenticate") {
			scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
			scheme = strings.ToLower(scheme)
			if scheme != "" && !slices.Contains(info.Offered, scheme) {
				info.Offered = append(info.Offered, scheme)
			}
		}
		resp.Body.Close()
		c.Close()
		user := proxy.User
		if resp.StatusCode == http.StatusProxyAuthRequired && auth == "" && user != nil && slices.Contains(info.Offered, "basic") {
			pass, _ := user.Password()
			auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user.Username()+":"+pass))
			info.Auth = "basic"
			continue
		}
		return nil, info, nil
	}
	return nil, info, nil
}

// dialProxy connects to the proxy itself (TLS for an https:// proxy).
func dialProxy(ctx context.Context, env *runEnv, proxy *url.URL) (net.Conn, error) {
	host := proxy.Host
	if proxy.Port() == "" {
		port := "80"
		if proxy.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(proxy.Hostname(), port)
	}
	if err := env.packet(ctx); err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, env.cfg.Timeout)
	defer cancel()
	c, err := env.cfg.Net.DialContext(dctx, "tcp", host)
	if err != nil || proxy.Scheme != "https" {
		return c, err
	}
	tc := tls.Client(c, &tls.Config{ServerName: proxy.Hostname(), RootCAs: env.cfg.RootCAs})
	if err := tc.HandshakeContext(dctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS to the proxy: %v", err)
	}
	return tc, nil
}

// probeProxyFlow opens a tunnel through the proxy to each of the flow's
// hosts on each port, judges the proxy's answer against the document's
// proxy-auth constraint, and shakes hands with TLS through the tunnel.
func (p *Plan) probeProxyFlow(ctx context.Context, env *runEnv, fp *flowPlan) []Result {
	jobs := cross(fp.proxied, tcpPorts(fp.c.Ports, p.cfg.Sample))
	outs := make([][]Result, len(jobs))
	env.each(len(jobs), func(i int) {
		j := jobs[i]
		release, err := env.acquire(ctx)
		if err != nil {
			return
		}
		defer release()
		target := net.JoinHostPort(j.e.host(), strconv.Itoa(int(j.port)))
		u, err := p.cfg.Proxy(target)
		r := base(fp, CheckProxy)
		r.Target = target
		// Without a tunnel the TLS check still gets its row, saying why.
		noTunnel := func(r Result) []Result {
			rs := []Result{r}
			if fp.tls && p.cfg.has(CheckTLS) {
				tr := base(fp, CheckTLS)
				tr.Target, tr.Via = target, r.Via
				tr.Status, tr.Summary = Skip, "not probed: no tunnel through the proxy ("+r.Summary+")"
				if fp.tlsMin != nil {
					tr.Constraint = fp.tlsMin.ID
				}
				rs = append(rs, tr)
			}
			return rs
		}
		if err != nil || u == nil {
			r.Status, r.Summary = Error, fmt.Sprintf("no proxy for %s: %v", target, err)
			outs[i] = noTunnel(r)
			return
		}
		r.Via = "proxy " + redactURL(u)
		t0 := time.Now()
		conn, info, err := proxyConnect(ctx, env, u, target)
		r.Elapsed = Millis(time.Since(t0))
		r.Proxy = info
		judgeProxy(&r, fp, info, err)
		if conn == nil {
			outs[i] = noTunnel(r)
			return
		}
		defer conn.Close()
		rs := []Result{r}
		if fp.tls && p.cfg.has(CheckTLS) {
			tinfo, err := tlsProbe(ctx, env, conn, j.e.Name, j.e.Addr)
			rs = append(rs, tlsResult(fp, target, r.Via, tinfo, err))
		}
		outs[i] = rs
	})
	var out []Result
	for _, rs := range outs {
		out = append(out, rs...)
	}
	return out
}

// judgeProxy sets the verdict of a CONNECT.
func judgeProxy(r *Result, fp *flowPlan, info *ProxyInfo, err error) {
	k := fp.proxyAuth
	if k != nil {
		r.Constraint = k.ID
	}
	allowed := []string{"basic"}
	if k != nil && len(k.Allowed) > 0 {
		allowed = nil
		for _, a := range k.Allowed {
			allowed = append(allowed, strings.ToLower(a))
		}
	}
	switch {
	case err != nil:
		r.Status, r.Summary = Fail, err.Error()
	case info.Status == http.StatusOK && info.Auth != "":
		r.Status, r.Summary = OK, fmt.Sprintf("CONNECT allowed after %s authentication", titleCase(info.Auth))
	case info.Status == http.StatusOK:
		r.Status, r.Summary = OK, "CONNECT allowed (no authentication asked)"
	case info.Status == http.StatusProxyAuthRequired:
		usable := false
		for _, o := range info.Offered {
			usable = usable || slices.Contains(allowed, o)
		}
		offered := strings.Join(info.Offered, ", ")
		if offered == "" {
			offered = "no scheme"
		}
		switch {
		case info.Auth == "basic":
			r.Status, r.Summary = Fail, "the proxy refused the Basic credentials in the proxy URL"
		case !usable && k != nil:
			r.Status = Fail
			r.Summary = fmt.Sprintf("incompatible: the proxy offers only %s; %s supports %s only (%s)",
				offered, fp.c.Service, strings.Join(allowed, ", "), k.ID)
		case !usable:
			r.Status = Error
			r.Summary = fmt.Sprintf("the proxy asks for %s, which the probe cannot speak (Basic only): the path through it cannot be tested", offered)
		default:
			r.Status = Fail
			r.Summary = fmt.Sprintf("the proxy asks for credentials (offers %s): give them as --proxy http://USER:PASSWORD@%s", offered, strings.TrimPrefix(strings.TrimPrefix(info.Proxy, "http://"), "https://"))
		}
	case info.Status == http.StatusForbidden:
		r.Status, r.Summary = Fail, fmt.Sprintf("the proxy refuses CONNECT to %s (403): allow it on the proxy", info.Target)
	default:
		r.Status, r.Summary = Fail, fmt.Sprintf("the proxy answered %d %s to CONNECT %s", info.Status, http.StatusText(info.Status), info.Target)
	}
	if len(info.Offered) > 0 {
		r.Details = append(r.Details, "offered: "+strings.Join(info.Offered, ", "))
	}
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
