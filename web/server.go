// Package web is portolan's web interface (portolan serve): the catalog,
// searchable; each service's flows and constraints with their sources, its
// features and params as a form; rules for every target from that form,
// shown and downloadable; an audit of a pasted or uploaded ruleset; and
// probe runs from the serving machine with their reports. Pages, style and
// script are embedded; nothing is fetched from elsewhere.
//
// It calls the packages the CLI calls (catalog, resolve, target, audit,
// probe, report) the way the CLI calls them, with the same limits: the
// probe sends only to the catalog's hosts, the reflector and the proxy
// that the server was started with.
//
// Security: every POST carries a CSRF token (an HMAC of a random cookie
// under a per-process key); request bodies are bounded (MaxUpload) and
// read into memory only, never written to disk; probe runs at once are
// bounded (MaxRuns); responses carry a Content-Security-Policy without
// inline script or style, X-Frame-Options DENY and nosniff. Without Auth,
// only requests naming a loopback host are served, so that a web page
// cannot reach the server through DNS rebinding.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/resolve"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Defaults of Options.
const (
	DefaultListen    = "127.0.0.1:8478"
	DefaultMaxUpload = 32 << 20
	DefaultMaxRuns   = 2
	DefaultKeepRuns  = 20
	// MaxRunTime ends a probe run that has not finished.
	MaxRunTime = 15 * time.Minute
)

// Options configure a Server.
type Options struct {
	// CatalogDir overlays the embedded catalog (the CLI's --catalog).
	CatalogDir string
	// Resolver turns names into addresses for rules and audit, as the
	// CLI's --hosts, --dns and --no-resolve build it; ResolverInfo says
	// what it is, for the rules' comments. NoResolve lets names stay
	// without addresses (--no-resolve).
	Resolver     resolve.Resolver
	ResolverInfo string
	NoResolve    bool
	// SourceCache is where host sets' published lists (feed:) are cached
	// ("" for the default), as the CLI's --source-cache.
	SourceCache string
	// SyncResolverInfo is ResolverInfo for nftables, whose names' sets
	// portolan sync fills ("" for ResolverInfo).
	SyncResolverInfo string
	// ResolveArgs are the command line flags that resolve names as
	// Resolver does (--hosts FILE, --dns, --no-resolve), and CatalogArgs
	// those that choose the catalog (--catalog DIR), both shell-quoted, for
	// the CLI command a page shows and the rules' comments carry.
	ResolveArgs []string
	CatalogArgs []string
	// ProbeResolver resolves names for probe runs.
	ProbeResolver resolve.Resolver
	// Probe is the server's probe configuration: the reflector, its
	// token, the proxy, CAs, rate, concurrency and timeout (and, in
	// tests, Net). A run takes its checks, sample and endpoints from the
	// form, everything else from here.
	Probe probe.Config
	// Auth, when set, is required of every request.
	Auth *Auth
	// TLS: the server is reached over https (cookies are Secure).
	TLS bool
	// MaxUpload bounds a request body in bytes; MaxRuns the probe runs at
	// once; KeepRuns the finished runs kept with their reports.
	MaxUpload int64
	MaxRuns   int
	KeepRuns  int
	// Version is portolan's, for generated comments.
	Version string
	// Log receives one line per error and per probe run; nil discards.
	Log io.Writer
}

// Server is the web interface.
type Server struct {
	opt     Options
	cat     *catalog.Catalog
	tmpl    map[string]*template.Template
	key     []byte // CSRF HMAC key
	log     *log.Logger
	mux     *http.ServeMux
	base    context.Context
	cancel  context.CancelFunc
	runsMu  sync.Mutex
	runs    []*run // oldest first
	running int
	seq     int
}

// New loads the catalog and templates and returns the server.
func New(opt Options) (*Server, error) {
	if opt.MaxUpload <= 0 {
		opt.MaxUpload = DefaultMaxUpload
	}
	if opt.MaxRuns <= 0 {
		opt.MaxRuns = DefaultMaxRuns
	}
	if opt.KeepRuns <= 0 {
		opt.KeepRuns = DefaultKeepRuns
	}
	if opt.Resolver == nil {
		opt.Resolver, opt.ResolverInfo, opt.NoResolve = resolve.NoResolve{}, "not resolved (--no-resolve)", true
	}
	if opt.ProbeResolver == nil {
		opt.ProbeResolver = resolve.NoResolve{}
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	cat, err := catalog.Open(opt.CatalogDir)
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, cat: cat, log: log.New(opt.Log, "portolan serve: ", 0)}
	s.key = make([]byte, 32)
	if _, err := rand.Read(s.key); err != nil {
		return nil, err
	}
	if s.tmpl, err = loadTemplates(); err != nil {
		return nil, err
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.routes()
	return s, nil
}

// Close ends the probe runs under way.
func (s *Server) Close() { s.cancel() }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.catalogPage)
	m.HandleFunc("GET /services/{slug}", s.servicePage)
	m.HandleFunc("POST /services/{slug}", s.post(func(w http.ResponseWriter, r *http.Request, f *postForm) { s.serviceForm(w, r, f.values) }))
	m.HandleFunc("GET /services/{slug}/rules", s.rulesPage)
	m.HandleFunc("POST /services/{slug}/rules", s.post(func(w http.ResponseWriter, r *http.Request, f *postForm) { s.rules(w, r, f.values) }))
	m.HandleFunc("POST /services/{slug}/audit", s.post(s.auditPage))
	m.HandleFunc("POST /services/{slug}/probe", s.post(s.startProbe))
	m.HandleFunc("GET /runs", s.runsPage)
	m.HandleFunc("GET /runs/{id}", s.runPage)
	m.HandleFunc("GET /runs/{id}/status", s.runStatus)
	m.HandleFunc("POST /runs/{id}/stop", s.post(s.stopRun))
	m.HandleFunc("GET /runs/{id}/report", s.runReport)
	sub, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "no page at "+r.URL.Path)
	})
	s.mux = m
}

// contentPolicy allows only the server's own script and style.
const contentPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// Handler returns the server's handler: security headers, the host check,
// authentication, then the pages.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.opt.TLS {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if s.opt.Auth == nil && !loopbackHost(r.Host) {
			s.fail(w, r, http.StatusMisdirectedRequest, fmt.Sprintf("host %q: this server answers only to localhost, 127.0.0.1 or [::1] (start it with --auth to serve other names)", r.Host))
			return
		}
		if s.opt.Auth != nil && !s.opt.Auth.Check(r) {
			h.Set("WWW-Authenticate", `Basic realm="portolan", charset="UTF-8"`)
			s.fail(w, r, http.StatusUnauthorized, "wrong or missing credentials: sign in with a user of the --auth file, or its token")
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names the loopback.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackListen reports whether a --listen address binds only the
// loopback: 127.0.0.0/8, ::1 or localhost.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return host != "" && loopbackHost(host)
}

const csrfCookie = "portolan_csrf"

// csrfToken returns the token the forms of this response carry, setting
// the cookie it derives from when the browser has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(csrfCookie)
	val := ""
	if err == nil && len(c.Value) == 43 {
		val = c.Value
	} else {
		b := make([]byte, 32)
		rand.Read(b)
		val = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: val, Path: "/", HttpOnly: true,
			Secure: s.opt.TLS, SameSite: http.SameSiteStrictMode})
	}
	return s.sign(val)
}

func (s *Server) sign(v string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF compares the form's token with the cookie's HMAC.
func (s *Server) checkCSRF(r *http.Request, token string) error {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return errors.New("no CSRF cookie: reload the page and submit its form again (cookies must be allowed)")
	}
	if token == "" {
		return errors.New("the form carries no CSRF token: submit it from portolan's own page")
	}
	if !hmac.Equal([]byte(token), []byte(s.sign(c.Value))) {
		return errors.New("the form's CSRF token does not match: reload the page and submit its form again")
	}
	return nil
}

// post reads a POST body (bounded, into memory), checks the CSRF token and
// hands the form to h.
func (s *Server) post(h func(http.ResponseWriter, *http.Request, *postForm)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
			s.fail(w, r, http.StatusForbidden, "a cross-site POST: submit the form from portolan's own page")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxUpload)
		f, err := readPost(r, s.opt.MaxUpload)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("the upload is larger than %s, the server's --max-upload", sizeText(s.opt.MaxUpload)))
				return
			}
			s.fail(w, r, http.StatusBadRequest, err.Error())
			return
		}
		if err := s.checkCSRF(r, f.values.Get(fCSRF)); err != nil {
			s.fail(w, r, http.StatusForbidden, err.Error())
			return
		}
		h(w, r, f)
	}
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// fail writes an error page with code and msg.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if code >= 500 {
		s.log.Printf("%s %s: %s", r.Method, r.URL.Path, msg)
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, code, "error", map[string]any{"Title": http.StatusText(code), "Code": code, "Message": msg})
}

// render executes a page template with the common fields.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, data map[string]any) {
	data["CSRF"] = s.csrfToken(w, r)
	data["Version"] = s.opt.Version
	data["Path"] = r.URL.Path
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := s.tmpl[name].ExecuteTemplate(&b, "layout", data); err != nil {
		s.log.Printf("template %s: %v", name, err)
		http.Error(w, "internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(code)
	io.WriteString(w, b.String())
}
