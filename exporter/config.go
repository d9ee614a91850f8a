// Package exporter is portolan's Prometheus exporter: GET
// /probe?service=S&module=M runs the probe (package probe, the same code
// as portolan probe) with the checks and flags of module M from a YAML
// config, and answers the result as Prometheus metrics, in the shape
// blackbox_exporter users know.
package exporter

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/net/http/httpproxy"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/lazyre"
	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/resolve"
)

// MaxConfigSize bounds what a config file may hold.
const MaxConfigSize = 1 << 20

// maxTokenFile bounds a token file.
const maxTokenFile = 4096

// Config is the exporter's config file: named modules.
type Config struct {
	Modules map[string]*Module
}

// Module is one way to probe: the probe's flags, as YAML keys.
type Module struct {
	Name string
	// Services, when set, are the only services the module may probe.
	Services []string
	Checks   []string
	// Selection of features, params and platforms, as with --feature,
	// --no-feature, --all-features, --param, --platform.
	Params      map[string]string
	Features    []string
	NoFeatures  []string
	AllFeatures bool
	Platforms   []string

	Reflector string
	TokenFile string
	Proxy     string
	Endpoints []string
	Hosts     string
	DNS       []string
	NoResolve bool
	CA        string

	Rate        float64
	Concurrency int
	Sample      int
	Timeout     time.Duration
	NATMeasure  bool
	NATMax      time.Duration
	// ScrapeTimeout bounds a run when Prometheus does not say how long it
	// waits (X-Prometheus-Scrape-Timeout-Seconds).
	ScrapeTimeout time.Duration

	// Loaded by Load: the token, the pinned names, the CAs, the proxy.
	token     []byte
	hosts     *resolve.Hosts
	rootCAs   *x509.CertPool
	proxy     func(string) (*url.URL, error)
	proxyName string
}

// DefaultScrapeTimeout bounds a run when neither Prometheus nor the module
// says how long.
const DefaultScrapeTimeout = 30 * time.Second

// moduleName is what a module may be called: it becomes a label value and
// a query parameter.
var moduleName = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Error is a config error at a line and column of a file.
type Error struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads, checks and completes the config at path: files it names
// (token_file, hosts, ca; relative to the config's directory) are read now,
// so that a config that loads is one that runs.
func Load(path string) (*Config, error) {
	data, err := safeio.ReadFile(path, MaxConfigSize, nil)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	for _, name := range cfg.Names() {
		if err := cfg.Modules[name].load(dir); err != nil {
			return nil, fmt.Errorf("%s: module %s: %v", path, name, err)
		}
	}
	return cfg, nil
}

// CheckServices checks that the services the modules name are in the
// catalog.
func (c *Config) CheckServices(file string, cat *catalog.Catalog) error {
	for _, name := range c.Names() {
		for _, s := range c.Modules[name].Services {
			if _, err := cat.Get(s); err != nil {
				return fmt.Errorf("%s: module %s: services: %v", file, name, err)
			}
		}
	}
	return nil
}

// Names lists the modules in order.
func (c *Config) Names() []string {
	out := make([]string, 0, len(c.Modules))
	for n := range c.Modules {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Parse reads a config without touching any file it names. Unknown keys,
// values of the wrong type and values out of range are errors naming the
// file, line and column.
func Parse(data []byte, file string) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "empty: write modules: {NAME: {checks: [...], ...}}"}
		}
		return nil, &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, &Error{File: file, Line: more.Line, Column: more.Column, Msg: "one YAML document only"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	errAt := func(n *yaml.Node, format string, args ...any) error {
		return &Error{File: file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
	}
	if root.Kind != yaml.MappingNode {
		return nil, errAt(root, "the config is a mapping: modules: {NAME: {...}}")
	}
	// Duplicate keys: the YAML node tree keeps both; the config refuses.
	var dup error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if dup != nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			seen := map[string]*yaml.Node{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if prev, ok := seen[k.Value]; ok && k.Kind == yaml.ScalarNode {
					dup = errAt(k, "key %q given twice (first at line %d)", k.Value, prev.Line)
					return
				}
				seen[k.Value] = k
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	if dup != nil {
		return nil, dup
	}
	cfg := &Config{Modules: map[string]*Module{}}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "modules":
			if v.Kind != yaml.MappingNode {
				return nil, errAt(v, "modules: a mapping of module names to modules")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				mk, mv := v.Content[j], v.Content[j+1]
				if mk.Kind != yaml.ScalarNode || !moduleName.MatchString(mk.Value) {
					return nil, errAt(mk, "module name %q: letters, digits, '_', '.' and '-', at most 64", mk.Value)
				}
				m, err := parseModule(mk.Value, mv, errAt)
				if err != nil {
					return nil, err
				}
				cfg.Modules[m.Name] = m
			}
		default:
			return nil, errAt(k, "unknown key %q (the config has: modules)", k.Value)
		}
	}
	if len(cfg.Modules) == 0 {
		return nil, errAt(root, "no module: write modules: {NAME: {checks: [...], ...}}")
	}
	return cfg, nil
}

// moduleKeys are a module's keys, in the order --help lists them.
var moduleKeys = []string{"services", "checks", "params", "features", "no_features", "all_features", "platforms",
	"reflector", "token_file", "proxy", "endpoints", "hosts", "dns", "no_resolve", "ca",
	"rate", "concurrency", "sample", "timeout", "nat_measure", "nat_max", "scrape_timeout"}

func parseModule(name string, n *yaml.Node, errAt func(*yaml.Node, string, ...any) error) (*Module, error) {
	m := &Module{Name: name, Rate: probe.DefaultRate, Concurrency: probe.DefaultConcurrency, Timeout: probe.DefaultTimeout}
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, "module %s: a mapping of keys (%s)", name, strings.Join(moduleKeys, ", "))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		bad := func(want string) error {
			return errAt(v, "module %s: %s: %s", name, k.Value, want)
		}
		strs := func(dst *[]string) error {
			if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
				// checks: udp,sip-alg, as on the command line
				*dst = strings.Split(v.Value, ",")
				return nil
			}
			if v.Kind != yaml.SequenceNode {
				return bad("a list of strings")
			}
			var out []string
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode || e.Tag != "!!str" {
					return errAt(e, "module %s: %s: a list of strings", name, k.Value)
				}
				out = append(out, e.Value)
			}
			*dst = out
			return nil
		}
		str := func(dst *string) error {
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value == "" {
				return bad("a non-empty string")
			}
			*dst = v.Value
			return nil
		}
		boolean := func(dst *bool) error {
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
				return bad("true or false")
			}
			return v.Decode(dst)
		}
		integer := func(dst *int, lo, hi int) error {
			x, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil || x < lo || x > hi {
				return bad(fmt.Sprintf("a whole number from %d to %d", lo, hi))
			}
			*dst = x
			return nil
		}
		duration := func(dst *time.Duration, lo, hi time.Duration) error {
			d, err := time.ParseDuration(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || err != nil || d < lo || d > hi {
				return bad(fmt.Sprintf("a duration from %s to %s (1500ms, 3s, 2m)", lo, hi))
			}
			*dst = d
			return nil
		}
		var err error
		switch k.Value {
		case "services":
			err = strs(&m.Services)
		case "checks":
			var cs []string
			if err = strs(&cs); err == nil {
				if m.Checks, err = probe.ParseChecks(cs); err != nil {
					err = bad(strings.TrimPrefix(err.Error(), "--check "))
				}
			}
		case "params":
			if v.Kind != yaml.MappingNode {
				return nil, bad("a mapping of NAME: VALUE (company: acme)")
			}
			m.Params = map[string]string{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				pk, pv := v.Content[j], v.Content[j+1]
				if pk.Kind != yaml.ScalarNode || pk.Value == "" || strings.Contains(pk.Value, "=") || pv.Kind != yaml.ScalarNode {
					return nil, errAt(pk, "module %s: params: NAME: VALUE, one scalar each (SERVICE:NAME for one service)", name)
				}
				m.Params[pk.Value] = pv.Value
			}
		case "features":
			err = strs(&m.Features)
		case "no_features":
			err = strs(&m.NoFeatures)
		case "all_features":
			err = boolean(&m.AllFeatures)
		case "platforms":
			err = strs(&m.Platforms)
		case "reflector":
			if err = str(&m.Reflector); err == nil {
				err = checkHostPort(m.Reflector)
				if err != nil {
					err = bad(err.Error())
				}
			}
		case "token_file":
			err = str(&m.TokenFile)
		case "proxy":
			if err = str(&m.Proxy); err == nil {
				if m.proxy, m.proxyName, err = proxyFunc(m.Proxy); err != nil {
					err = bad(err.Error())
				}
			}
		case "endpoints":
			err = strs(&m.Endpoints)
		case "hosts":
			err = str(&m.Hosts)
		case "dns":
			if err = strs(&m.DNS); err == nil {
				for _, s := range m.DNS {
					if _, _, e := net.SplitHostPort(s); e != nil {
						return nil, bad(fmt.Sprintf("%q: HOST:PORT", s))
					}
				}
			}
		case "no_resolve":
			err = boolean(&m.NoResolve)
		case "ca":
			err = str(&m.CA)
		case "rate":
			x, perr := strconv.ParseFloat(v.Value, 64)
			if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") || perr != nil || !(x >= 1 && x <= 1e6) {
				err = bad("packets and connection attempts per second, from 1 to 1000000")
			}
			m.Rate = x
		case "concurrency":
			err = integer(&m.Concurrency, 1, 1024)
		case "sample":
			err = integer(&m.Sample, 0, 65535)
		case "timeout":
			err = duration(&m.Timeout, time.Millisecond, time.Minute)
		case "nat_measure":
			err = boolean(&m.NATMeasure)
		case "nat_max":
			err = duration(&m.NATMax, time.Second, time.Hour)
		case "scrape_timeout":
			err = duration(&m.ScrapeTimeout, time.Second, time.Hour)
		default:
			return nil, errAt(k, "module %s: unknown key %q; a module has %s", name, k.Value, strings.Join(moduleKeys, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	if m.Reflector == "" && m.TokenFile != "" {
		return nil, errAt(n, "module %s: token_file without reflector: the token proves the probe to a reflector", name)
	}
	if m.Reflector != "" && m.TokenFile == "" {
		return nil, errAt(n, "module %s: reflector needs token_file (the reflector answers only probes that prove it)", name)
	}
	if m.NoResolve && len(m.DNS) > 0 {
		return nil, errAt(n, "module %s: no_resolve and dns: give one of them", name)
	}
	return m, nil
}

// checkHostPort accepts HOST or HOST:PORT (the probe's --reflector).
func checkHostPort(s string) error {
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") > 1 {
		host = strings.Trim(s, "[]")
	} else if strings.Contains(s, ":") {
		return fmt.Errorf("%q: HOST or HOST:PORT", s)
	}
	if port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("%q: port %q is not a port", s, port)
		}
	}
	if host == "" || strings.ContainsAny(host, " /\t") {
		return fmt.Errorf("%q: HOST or HOST:PORT", s)
	}
	return nil
}

// proxyFunc is the probe's --proxy: a URL, none, or env ($HTTPS_PROXY and
// $NO_PROXY of the exporter's environment).
func proxyFunc(s string) (func(string) (*url.URL, error), string, error) {
	switch s {
	case "none", "off", "direct":
		return nil, "", nil
	case "env":
		env := httpproxy.FromEnvironment()
		if env.HTTPSProxy == "" {
			return nil, "", nil
		}
		fn := env.ProxyFunc()
		name := "$HTTPS_PROXY"
		if pu, err := url.Parse(env.HTTPSProxy); err == nil {
			name += " " + pu.Redacted()
		}
		return func(hostport string) (*url.URL, error) {
			return fn(&url.URL{Scheme: "https", Host: hostport})
		}, name, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, "", fmt.Errorf("write http://[USER:PASS@]HOST:PORT (or https://…, env, or none)")
	}
	return func(string) (*url.URL, error) { return u, nil }, "proxy " + u.Redacted(), nil
}

// load reads the files a module names, relative to dir.
func (m *Module) load(dir string) error {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if m.TokenFile != "" {
		b, err := safeio.ReadFile(abs(m.TokenFile), maxTokenFile, nil)
		if err != nil {
			return fmt.Errorf("token_file: %v", err)
		}
		tok := bytes.TrimSpace(b)
		switch {
		case len(tok) == 0:
			return fmt.Errorf("token_file %s: empty; write a token in it (openssl rand -hex 16 > %s)", m.TokenFile, m.TokenFile)
		case bytes.ContainsAny(tok, " \t\r\n"):
			return fmt.Errorf("token_file %s: line 1: the token is one word on one line", m.TokenFile)
		}
		m.token = tok
	}
	if m.Hosts != "" {
		h, err := resolve.LoadHosts(abs(m.Hosts))
		if err != nil {
			return fmt.Errorf("hosts: %v", err)
		}
		m.hosts = h
	}
	if m.CA != "" {
		pem, err := safeio.ReadFile(abs(m.CA), MaxConfigSize, nil)
		if err != nil {
			return fmt.Errorf("ca: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ca %s: no PEM certificate in it", m.CA)
		}
		m.rootCAs = pool
	}
	return nil
}

// resolver is the module's: hosts pins first, then DNS unless no_resolve.
func (m *Module) resolver() (resolve.Resolver, error) {
	var chain resolve.Chain
	if m.hosts != nil {
		chain = append(chain, m.hosts)
	}
	if !m.NoResolve {
		d, err := resolve.NewDNS(m.DNS...)
		if err != nil {
			return nil, err
		}
		chain = append(chain, d)
	}
	if len(chain) == 0 {
		return resolve.NoResolve{}, nil
	}
	return chain, nil
}

// probeConfig is the probe's Config for the module.
func (m *Module) probeConfig() probe.Config {
	return probe.Config{
		Checks: m.Checks, Reflector: m.Reflector, Token: m.token,
		Proxy: m.proxy, ProxyName: m.proxyName, Endpoints: m.Endpoints, RootCAs: m.rootCAs,
		Concurrency: m.Concurrency, Rate: m.Rate, Sample: m.Sample, Timeout: m.Timeout,
		NATMeasure: m.NATMeasure, NATMax: m.NATMax,
	}
}

// selection is the module's features and params, with the request's
// params (NAME=VALUE) after them.
func (m *Module) selection(extra []string) resolve.Selection {
	var params []string
	for _, k := range sortedKeys(m.Params) {
		params = append(params, k+"="+m.Params[k])
	}
	return resolve.Selection{Features: m.Features, Without: m.NoFeatures, AllFeatures: m.AllFeatures,
		Params: append(params, extra...), Platforms: m.Platforms}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
