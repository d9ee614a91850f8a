package web

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/resolve"
)

// pinsText pins the names of the services the tests use to documentation
// addresses: the server asks no DNS in tests.
const pinsText = `# documentation addresses only (RFC 5737, RFC 3849)
203.0.113.10 acme.call.sl
203.0.113.11 config.starleaf.com
2001:db8:5::10 acme.call.sl
`

func pins(t testing.TB) (resolve.Resolver, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pins.txt")
	if err := os.WriteFile(path, []byte(pinsText), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := resolve.LoadHosts(path)
	if err != nil {
		t.Fatal(err)
	}
	return resolve.Chain{h}, path
}

func newServer(t testing.TB, opt Options) *Server {
	t.Helper()
	r, path := pins(t)
	if opt.Resolver == nil {
		opt.Resolver, opt.ResolverInfo, opt.NoResolve = r, "hosts file "+path+" only (--no-resolve)", true
		opt.ProbeResolver = r
	}
	opt.Version = "test"
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// client is a browser's state: the CSRF cookie and the token of the last
// page it got.
type client struct {
	t      testing.TB
	h      http.Handler
	cookie *http.Cookie
	token  string
	user   string
	pass   string
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(req *http.Request) *httptest.ResponseRecorder {
	c.t.Helper()
	req.Host = "127.0.0.1:8478"
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	for _, ck := range w.Result().Cookies() {
		if ck.Name == csrfCookie {
			c.cookie = ck
		}
	}
	if m := tokenRE.FindStringSubmatch(w.Body.String()); m != nil {
		c.token = m[1]
	}
	return w
}

func (c *client) get(path string) *httptest.ResponseRecorder {
	return c.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// postMultipart posts fields and files as a browser's form does.
func (c *client) postMultipart(path string, fields url.Values, files map[string][]byte) *httptest.ResponseRecorder {
	c.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for name, data := range files {
		fw, _ := mw.CreateFormFile(fFile, name)
		fw.Write(data)
	}
	mw.Close()
	req := httptest.NewRequest(http.MethodPost, path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// blockRTP is an iptables-save of a router that lets TW Solutions' phones
// out on HTTP, HTTPS and SIP but drops everything else, RTP included
// (written from iptables-save's documented format, iptables-save(8)).
const blockRTP = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 443 -j ACCEPT
-A FORWARD -p udp -m udp --dport 5060:5080 -j ACCEPT
COMMIT
`

func TestPages(t *testing.T) {
	s := newServer(t, Options{})
	for _, tc := range []struct {
		name, path string
		code       int
		want       []string
		not        []string
	}{
		{"catalog", "/", 200, []string{"5 of 5 services", `href="/services/starleaf"`, `href="/services/onsight"`}, nil},
		{"search by vendor's host", "/?q=librestream", 200, []string{"1 of 5 services", `href="/services/onsight"`}, []string{`href="/services/starleaf"`}},
		{"search by port", "/?q=24704", 200, []string{"1 of 5 services", `href="/services/starleaf"`}, []string{`href="/services/onsight"`}},
		{"search without a match", "/?q=%3Cscript%3E", 200, []string{"0 of 5 services", "No service matches “&lt;script&gt;”"}, []string{"<script>"}},
		{"unknown service", "/services/nope", 404, []string{`no service &#34;nope&#34; in the catalog`}, nil},
		{"unknown page", "/nothing/here", 404, []string{"no page at /nothing/here"}, nil},
		{"service, params unset", "/services/starleaf", 200, []string{"{company}.call.sl", "param not set: company", "line "}, nil},
		{"service, param set", "/services/starleaf?param.company=acme", 200, []string{"acme.call.sl"}, []string{"param not set"}},
		{"bad param value", "/services/starleaf?param.company=a%20b", 400, []string{`id="error"`, "company"}, nil},
		{"unknown feature", "/services/starleaf?sel=1&feature=teleport", 400, []string{`starleaf has no feature &#34;teleport&#34;`}, nil},
		{"unknown param", "/services/starleaf?param.colour=red", 400, []string{`starleaf has no param &#34;colour&#34;`}, nil},
		{"rules nftables", "/services/tw-solutions/rules?target=nftables", 200, []string{`id="rules-out"`, "table inet portolan", `id="download"`}, nil},
		{"rules unknown target", "/services/tw-solutions/rules?target=pf", 400, []string{`id="error"`, "pf"}, nil},
		{"rules missing param", "/services/starleaf/rules?target=nftables", 400, []string{"company"}, nil},
		{"rules bad lan", "/services/tw-solutions/rules?lan=192.0.2.0/33", 400, []string{"lan: &#34;192.0.2.0/33&#34;: not a CIDR block"}, nil},
		{"rules host-only target in gateway mode", "/services/tw-solutions/rules?target=aws", 400, []string{"--mode host"}, nil},
		{"rules, another target's flag is ignored", "/services/tw-solutions/rules?target=nftables&tf.zone=trusted", 200, []string{"table inet portolan"}, nil},
		{"rules, an unknown flag", "/services/tw-solutions/rules?target=nftables&tf.colour=red", 400, []string{"no target has the flag --colour"}, nil},
		{"rules, a target's flag", "/services/tw-solutions/rules?target=firewalld&mode=host&tf.zone=trusted", 200, []string{"into zone trusted"}, nil},
		{"rules, a target's bool flag", "/services/starleaf/rules?target=windows&mode=host&param.company=acme&tf.dynamic-keywords=true", 200, []string{"# names: AutoResolve dynamic keyword addresses"}, nil},
		{"rules, a bad bool flag", "/services/starleaf/rules?target=windows&mode=host&param.company=acme&tf.dynamic-keywords=maybe", 400, []string{"--dynamic-keywords &#34;maybe&#34;"}, nil},
		{"rules, the flag back at its default", "/services/starleaf/rules?target=windows&mode=host&param.company=acme", 200, []string{"New-NetFirewallRule"}, []string{"# names: AutoResolve dynamic keyword addresses"}},
		{"unknown run", "/runs/99", 404, []string{"no probe run &#34;99&#34;"}, nil},
		{"runs", "/runs", 200, []string{"No probe run yet"}, nil},
		{"style", "/static/style.css", 200, []string{".card{"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &client{t: t, h: s.Handler()}
			w := c.get(tc.path)
			body := w.Body.String()
			if w.Code != tc.code {
				t.Errorf("GET %s: %d, want %d\n%s", tc.path, w.Code, tc.code, excerpt(body))
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s: no %q in\n%s", tc.path, want, excerpt(body))
				}
			}
			for _, not := range tc.not {
				if strings.Contains(body, not) {
					t.Errorf("GET %s: %q in the page", tc.path, not)
				}
			}
			h := w.Header()
			if !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'self'") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s: security headers %v", tc.path, h)
			}
		})
	}
}

// excerpt is the error or the first part of a page, for failures.
func excerpt(body string) string {
	if i := strings.Index(body, `id="error"`); i >= 0 {
		return body[i:min(len(body), i+400)]
	}
	return body[:min(len(body), 600)]
}

// TestDownload: the download is the output the page shows, named after
// the service and the platform.
func TestDownload(t *testing.T) {
	s := newServer(t, Options{})
	for _, tc := range []struct{ target, file, want string }{
		{"nftables", "portolan-starleaf-nftables.nft", "table inet portolan"},
		{"iptables", "portolan-starleaf-iptables.rules", "*filter"},
		{"squid", "portolan-starleaf-squid.conf", "dstdomain -n acme.call.sl"},
		{"kubernetes", "portolan-starleaf-kubernetes.yaml", "kind: NetworkPolicy"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			c := &client{t: t, h: s.Handler()}
			q := "param.company=acme&target=" + tc.target
			if tc.target == "kubernetes" {
				q += "&mode=host&tf.selector=app%3Dphone"
			}
			w := c.get("/services/starleaf/rules?" + q + "&dl=1")
			if w.Code != 200 {
				t.Fatalf("%d: %s", w.Code, excerpt(w.Body.String()))
			}
			if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="`+tc.file+`"` {
				t.Errorf("Content-Disposition %q", cd)
			}
			body := w.Body.String()
			if !strings.Contains(body, tc.want) {
				t.Errorf("no %q in\n%s", tc.want, body[:min(len(body), 800)])
			}
			page := c.get("/services/starleaf/rules?" + q).Body.String()
			if !strings.Contains(page, escapeLikeTemplate(strings.SplitN(body, "\n", 2)[0])) {
				t.Errorf("the page does not show the download's first line %q", strings.SplitN(body, "\n", 2)[0])
			}
		})
	}
}

// escapeLikeTemplate escapes text as html/template does in an element.
func escapeLikeTemplate(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;")
	return r.Replace(s)
}

// TestAudit: a pasted iptables-save that drops TW Solutions' RTP: the page
// lists the blocked flow first, with the deciding rule (the FORWARD
// policy) and a witness packet; an uploaded file gives the same.
func TestAudit(t *testing.T) {
	s := newServer(t, Options{})
	for _, tc := range []struct {
		name  string
		paste string
		files map[string][]byte
		src   string
	}{
		{"pasted", blockRTP, nil, "from pasted"},
		{"uploaded", "", map[string][]byte{"router.rules": []byte(blockRTP)}, "from router.rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &client{t: t, h: s.Handler()}
			c.get("/services/tw-solutions")
			w := c.postMultipart("/services/tw-solutions/audit", url.Values{
				fCSRF: {c.token}, fSel: {"1"}, "feature": {"remote-support"}, fRuleset: {tc.paste},
				fLANIf: {"lan0"}, fWANIf: {"wan0"}, fLAN: {"192.0.2.0/24"},
			}, tc.files)
			body := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("%d: %s", w.Code, excerpt(body))
			}
			for _, want := range []string{`id="audit-out"`, "required flow(s) not allowed", tc.src, "deciding rule: <code>", "witness: <code>"} {
				if !strings.Contains(body, want) {
					t.Errorf("no %q in the audit", want)
				}
			}
			blocked := strings.Index(body, `<tr class="v-blocked">`)
			allowed := strings.Index(body, `<tr class="v-allowed">`)
			rtp := strings.Index(body, "tw-solutions/rtp")
			if blocked < 0 || allowed < 0 || rtp < 0 || !(blocked < rtp && rtp < allowed) {
				t.Errorf("want the blocked rtp flow before the allowed ones: blocked at %d, rtp at %d, allowed at %d", blocked, rtp, allowed)
			}
		})
	}
}

// TestRefused: bad requests get a clear error, and no probe runs.
func TestRefused(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("right-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ParseAuth("users", []byte("alice:"+string(hash)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		opt    Options
		user   string
		pass   string
		host   string
		path   string
		fields url.Values
		noCSRF bool
		badTok bool
		body   string // raw body instead of the form
		ctype  string
		full   bool // take the only probe slot first
		code   int
		want   string
	}{
		{name: "probe, no CSRF token", path: "/services/tw-solutions/probe", noCSRF: true, code: 403, want: "the form carries no CSRF token"},
		{name: "probe, wrong CSRF token", path: "/services/tw-solutions/probe", badTok: true, code: 403, want: "CSRF token does not match"},
		{name: "audit, no CSRF token", path: "/services/tw-solutions/audit", fields: url.Values{fRuleset: {blockRTP}}, noCSRF: true, code: 403, want: "CSRF token"},
		{name: "probe, unknown service", path: "/services/nope/probe", code: 404, want: "no service &#34;nope&#34;"},
		{name: "probe, unknown check", path: "/services/tw-solutions/probe", fields: url.Values{fCheck: {"telepathy"}}, code: 400, want: "telepathy"},
		{name: "probe, bad sample", path: "/services/tw-solutions/probe", fields: url.Values{fSample: {"-3"}}, code: 400, want: "sample: &#34;-3&#34;"},
		{name: "probe, missing param", path: "/services/starleaf/probe", code: 400, want: "company"},
		{name: "probe, endpoint outside the catalog", path: "/services/tw-solutions/probe", fields: url.Values{fEndpoint: {"192.0.2.99"}}, code: 400, want: "192.0.2.99"},
		{name: "probe, too many runs", path: "/services/tw-solutions/probe", opt: Options{MaxRuns: 1}, full: true, code: 429, want: "1 probe runs are under way"},
		{name: "oversized upload", path: "/services/tw-solutions/audit", opt: Options{MaxUpload: 1024}, fields: url.Values{fRuleset: {strings.Repeat("# padding\n", 200)}}, code: 413, want: "larger than 1 KiB"},
		{name: "audit, no ruleset", path: "/services/tw-solutions/audit", code: 400, want: "no ruleset: paste"},
		{name: "audit, bad ruleset", path: "/services/tw-solutions/audit", fields: url.Values{fRuleset: {"*filter\n-A FORWARD -p udp --dport 99999 -j ACCEPT\nCOMMIT\n"}}, code: 400, want: "pasted:2: -A FORWARD"},
		{name: "audit, bad format", path: "/services/tw-solutions/audit", fields: url.Values{fRuleset: {blockRTP}, fFormat: {"pf"}}, code: 400, want: "format: &#34;pf&#34;"},
		{name: "not a form", path: "/services/tw-solutions/audit", body: `{"ruleset":1}`, ctype: "application/json", code: 400, want: "post the page&#39;s form"},
		{name: "wrong password", opt: Options{Auth: auth}, user: "alice", pass: "wrong", path: "/services/tw-solutions/probe", code: 401, want: "wrong or missing credentials"},
		{name: "unknown user", opt: Options{Auth: auth}, user: "mallory", pass: "right-password", path: "/services/tw-solutions/probe", code: 401, want: "wrong or missing credentials"},
		{name: "no credentials", opt: Options{Auth: auth}, path: "/", code: 401, want: "wrong or missing credentials"},
		{name: "right password", opt: Options{Auth: auth}, user: "alice", pass: "right-password", path: "/services/tw-solutions/probe", fields: url.Values{fCheck: {"telepathy"}}, code: 400, want: "telepathy"},
		{name: "a name that is not loopback", host: "rebind.example.com", path: "/services/tw-solutions/probe", code: 421, want: "answers only to localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opt)
			c := &client{t: t, h: s.Handler(), user: tc.user, pass: tc.pass}
			if tc.user == "" && tc.opt.Auth != nil && tc.code != 401 {
				t.Fatal("test needs credentials")
			}
			// A page first, for the cookie and token, as a browser would
			// (signed in where the case has credentials).
			c.get("/services/tw-solutions")
			if tc.full && !s.reserveRun() {
				t.Fatal("no run slot")
			}
			fields := url.Values{}
			for k, v := range tc.fields {
				fields[k] = v
			}
			switch {
			case tc.badTok:
				fields.Set(fCSRF, "AAAA"+c.token)
			case !tc.noCSRF:
				fields.Set(fCSRF, c.token)
			}
			var w *httptest.ResponseRecorder
			if tc.body != "" {
				req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
				req.Header.Set("Content-Type", tc.ctype)
				w = c.do(req)
			} else if tc.host != "" {
				req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(fields.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w = httptest.NewRecorder()
				req.Host = tc.host
				s.Handler().ServeHTTP(w, req)
			} else {
				w = c.postMultipart(tc.path, fields, nil)
			}
			body := w.Body.String()
			if w.Code != tc.code {
				t.Errorf("%d, want %d: %s", w.Code, tc.code, excerpt(body))
			}
			if !strings.Contains(body, tc.want) {
				t.Errorf("no %q in: %s", tc.want, excerpt(body))
			}
			if tc.code == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without WWW-Authenticate: Basic")
			}
			if n := s.Runs(); n != 0 {
				t.Errorf("%d probe runs started", n)
			}
		})
	}
}

func TestParseAuth(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	for _, tc := range []struct{ name, data, err string }{
		{"htpasswd", "# users\nalice:" + string(hash) + "\n\nbob:" + string(hash) + "\n", ""},
		{"token", "0123456789abcdef0123\n", ""},
		{"empty", "\n# nothing\n", "auth: no user and no token in it"},
		{"apr1 hash", "alice:$apr1$abc$def\n", "auth: line 1: user \"alice\": not a bcrypt hash"},
		{"empty user", ":" + string(hash) + "\n", "auth: line 1: empty user name"},
		{"short token", "abc\n", "at least 16 characters"},
		{"two tokens", "0123456789abcdef0123\n0123456789abcdef0124\n", "2 token lines"},
		{"mixed", "0123456789abcdef0123\nalice:" + string(hash) + "\n", "mixes htpasswd lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAuth("auth", []byte(tc.data))
			if tc.err == "" {
				if err != nil || a == nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
	// A token is accepted as a Bearer token and as a Basic password.
	a, _ := ParseAuth("auth", []byte("0123456789abcdef0123"))
	for _, tc := range []struct {
		set  func(*http.Request)
		want bool
	}{
		{func(r *http.Request) { r.Header.Set("Authorization", "Bearer 0123456789abcdef0123") }, true},
		{func(r *http.Request) { r.Header.Set("Authorization", "Bearer 0123456789abcdef0124") }, false},
		{func(r *http.Request) { r.SetBasicAuth("any", "0123456789abcdef0123") }, true},
		{func(r *http.Request) { r.SetBasicAuth("0123456789abcdef0123", "") }, false},
		{func(r *http.Request) {}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		tc.set(r)
		if got := a.Check(r); got != tc.want {
			t.Errorf("%v: %v, want %v", r.Header, got, tc.want)
		}
	}
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8478": true, "[::1]:8478": true, "localhost:8478": true, "127.0.0.2:1": true,
		"0.0.0.0:8478": false, ":8478": false, "[::]:8478": false, "192.0.2.1:8478": false, "example.com:8478": false, "127.0.0.1": false,
	} {
		if got := IsLoopbackListen(addr); got != want {
			t.Errorf("%s: %v, want %v", addr, got, want)
		}
	}
}

// TestKeepRuns: finished runs beyond KeepRuns go, oldest first; a run
// under way is never dropped.
func TestKeepRuns(t *testing.T) {
	s := newServer(t, Options{KeepRuns: 2, MaxRuns: 10})
	var runs []*run
	for i := 0; i < 5; i++ {
		if !s.reserveRun() {
			t.Fatal("no slot")
		}
		runs = append(runs, s.addRun("tw-solutions", nil))
	}
	finish := func(x *run) {
		x.mu.Lock()
		x.finished = true
		x.mu.Unlock()
		s.releaseRun(x)
	}
	// Run 1 stays under way; 2..5 finish in order.
	for _, x := range runs[1:] {
		finish(x)
	}
	var ids []string
	for _, x := range s.runs {
		ids = append(ids, x.ID)
	}
	if strings.Join(ids, ",") != "1,4,5" {
		t.Errorf("kept %v, want the run under way and the last two finished (1,4,5)", ids)
	}
	c := &client{t: t, h: s.Handler()}
	if w := c.get("/runs/2"); w.Code != 404 {
		t.Errorf("a dropped run: %d", w.Code)
	}
	if w := c.get("/runs/1/report"); w.Code != 409 || !strings.Contains(w.Body.String(), "still under way") {
		t.Errorf("the report of a run under way: %d", w.Code)
	}
	if w := c.get("/runs/5/status"); w.Code != 200 || !strings.Contains(w.Body.String(), `"finished":true`) {
		t.Errorf("status of run 5: %d %s", w.Code, w.Body.String())
	}
}

// TestUploadInMemory: a large upload is read into memory, never into a
// temporary file (mime/multipart's ReadForm would write one), and kept
// nowhere after the answer.
func TestUploadInMemory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := newServer(t, Options{MaxUpload: 32 << 20})
	c := &client{t: t, h: s.Handler()}
	c.get("/services/tw-solutions")
	// 20 MB of comments, then the ruleset: iptables-save skips comments.
	big := strings.Repeat("# "+strings.Repeat("x", 98)+"\n", 200000) + blockRTP
	w := c.postMultipart("/services/tw-solutions/audit", url.Values{fCSRF: {c.token}, fLAN: {"192.0.2.0/24"}, fFormat: {"iptables-save"}},
		map[string][]byte{"big.rules": []byte(big)})
	if w.Code != 200 || !strings.Contains(w.Body.String(), "from big.rules") {
		t.Fatalf("%d: %s", w.Code, excerpt(w.Body.String()))
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("the upload left %d files in TMPDIR: %v", len(ents), ents[0].Name())
	}
}

// holdNet is a probe network that sends nothing: each dial and listen
// waits until the run ends, and is counted.
type holdNet struct {
	mu    sync.Mutex
	tries int
}

func (n *holdNet) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	n.mu.Lock()
	n.tries++
	n.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (n *holdNet) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return nil, n.hold(ctx)
}

func (n *holdNet) hold(ctx context.Context) error {
	n.mu.Lock()
	n.tries++
	n.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

// TestProbeRun follows a run through the pages, sending nothing: a dns
// check (names pinned by the hosts file) to its report; a tcp check whose
// connections never complete, stopped from its page; and, while that one
// runs, one more than --max-runs refused.
func TestProbeRun(t *testing.T) {
	hn := &holdNet{}
	s := newServer(t, Options{MaxRuns: 1, Probe: probe.Config{Net: hn, Timeout: time.Minute}})
	c := &client{t: t, h: s.Handler()}
	c.get("/services/starleaf")
	start := func(check string) *httptest.ResponseRecorder {
		return c.postMultipart("/services/starleaf/probe", url.Values{fCSRF: {c.token}, "param.company": {"acme"}, fCheck: {check}}, nil)
	}
	wait := func(id string) runState {
		var st runState
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			w := c.get("/runs/" + id + "/status")
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatalf("status: %v: %s", err, w.Body.String())
			}
			if st.Finished {
				return st
			}
		}
		t.Fatalf("run %s did not finish: %+v", id, st)
		return st
	}

	w := start("dns")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/runs/1" {
		t.Fatalf("start: %d %q: %s", w.Code, w.Header().Get("Location"), excerpt(w.Body.String()))
	}
	st := wait("1")
	if !st.OK || st.Report != "/runs/1/report" {
		t.Errorf("dns run: %+v", st)
	}
	rep := c.get("/runs/1/report")
	if rep.Code != 200 || !strings.Contains(rep.Body.String(), "acme.call.sl") || !strings.Contains(rep.Body.String(), "203.0.113.10") {
		t.Errorf("report: %d\n%s", rep.Code, excerpt(rep.Body.String()))
	}
	if csp := rep.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("report CSP %q", csp)
	}
	if page := c.get("/runs/1").Body.String(); !strings.Contains(page, `id="report"`) || strings.Contains(page, `id="stop"`) {
		t.Errorf("finished run page:\n%s", excerpt(page))
	}

	// A tcp run hangs on its first connection until stopped.
	if w := start("tcp"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/runs/2" {
		t.Fatalf("start tcp: %d: %s", w.Code, excerpt(w.Body.String()))
	}
	if w := start("dns"); w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "1 probe runs are under way") {
		t.Errorf("a second run at once: %d", w.Code)
	}
	// Wait until it hangs on the network.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		hn.mu.Lock()
		tries := hn.tries
		hn.mu.Unlock()
		if tries > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the tcp run never tried to connect")
		}
	}
	page := c.get("/runs/2").Body.String()
	if !strings.Contains(page, `id="stop"`) {
		t.Fatalf("run page without a stop button:\n%s", excerpt(page))
	}
	if w := c.postMultipart("/runs/2/stop", url.Values{}, nil); w.Code != http.StatusForbidden {
		t.Errorf("stop without the CSRF token: %d", w.Code)
	}
	if w := c.postMultipart("/runs/2/stop", url.Values{fCSRF: {c.token}}, nil); w.Code != http.StatusSeeOther {
		t.Errorf("stop: %d: %s", w.Code, excerpt(w.Body.String()))
	}
	st = wait("2")
	if st.OK || !st.Stopped || !strings.HasPrefix(st.Verdict, "STOPPED") {
		t.Errorf("stopped run: %+v", st)
	}
	if n := s.Runs(); n != 2 {
		t.Errorf("%d runs kept, want 2", n)
	}
}

// TestAuditAppliance: an appliance's configuration pasted alone is detected
// by its reader (registered with the targets) and audited.
func TestAuditAppliance(t *testing.T) {
	s := newServer(t, Options{})
	for _, tc := range []struct{ file, format string }{
		{"../target/routeros/testdata/office.rsc", "routeros"},
		{"../target/asa/testdata/branch.cfg", "asa"},
		{"../target/fortigate/testdata/branch-office.conf", "fortigate"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			data, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			c := &client{t: t, h: s.Handler()}
			c.get("/services/tw-solutions")
			w := c.postMultipart("/services/tw-solutions/audit", url.Values{
				fCSRF: {c.token}, fSel: {"1"}, fRuleset: {string(data)}, fLAN: {"192.0.2.0/24"},
			}, nil)
			body := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("%d: %s", w.Code, excerpt(body))
			}
			if !strings.Contains(body, tc.format+" from pasted") {
				t.Errorf("the page does not say %q: %s", tc.format+" from pasted", excerpt(body))
			}
		})
	}
}
