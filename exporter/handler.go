package exporter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/textsafe"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/report"
	"github.com/portolan/portolan/resolve"
)

// DefaultListen is where the exporter listens unless told otherwise.
const DefaultListen = "127.0.0.1:9478"

// DefaultScrapeOffset is taken off Prometheus' scrape timeout so that the
// answer arrives before Prometheus gives up (blackbox_exporter's
// --timeout-offset).
const DefaultScrapeOffset = 500 * time.Millisecond

// Options configure an Exporter.
type Options struct {
	// ConfigFile is the YAML config; CatalogDir overlays the embedded
	// catalog (--catalog), "" for none.
	ConfigFile string
	CatalogDir string
	// Net makes the probe's sockets; nil means the host's.
	Net probe.Network
	// Log receives reloads and, at debug level, every run; nil: discard.
	Log *slog.Logger
	// ScrapeOffset is taken off X-Prometheus-Scrape-Timeout-Seconds.
	ScrapeOffset time.Duration
}

// state is what a reload replaces at once.
type state struct {
	cfg *Config
	cat *catalog.Catalog
	// lims are the modules' shared rate limiters.
	lims map[string]*rate.Limiter
}

// Exporter answers /probe, /metrics and /-/reload.
type Exporter struct {
	opt Options
	log *slog.Logger
	mu  sync.RWMutex
	st  *state
	// reloadMu makes reloads (SIGHUP and POST at once) one at a time.
	reloadMu sync.Mutex
	group    singleflight.Group

	reg          *prometheus.Registry
	reloadOK     prometheus.Gauge
	reloadTime   prometheus.Gauge
	modules      prometheus.Gauge
	scrapes      *prometheus.CounterVec
	runs         *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	inFlight     prometheus.Gauge
	runDurations *prometheus.HistogramVec
}

// New loads the config and the catalog.
func New(opt Options) (*Exporter, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opt.ScrapeOffset == 0 {
		opt.ScrapeOffset = DefaultScrapeOffset
	}
	e := &Exporter{opt: opt, log: opt.Log, reg: prometheus.NewRegistry()}
	e.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{Name: "portolan_exporter_config_last_reload_successful",
		Help: "Whether the last reload of the config succeeded (1); after a failed one the previous config stays in use."})
	e.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{Name: "portolan_exporter_config_last_reload_success_timestamp_seconds",
		Help: "When the config was last loaded successfully, in seconds since the epoch."})
	e.modules = prometheus.NewGauge(prometheus.GaugeOpts{Name: "portolan_exporter_config_modules", Help: "Modules in the config in use."})
	e.scrapes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portolan_exporter_probe_requests_total",
		Help: "Accepted /probe requests, by module; concurrent ones of the same service and module share one run."}, []string{"module"})
	e.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portolan_exporter_probe_runs_total",
		Help: "Probe runs started, by module and result (success, failure, refused, error)."}, []string{"module", "result"})
	e.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portolan_exporter_probe_requests_rejected_total",
		Help: "/probe requests answered 400 without a run, by reason."}, []string{"reason"})
	e.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "portolan_exporter_probe_runs_in_flight", Help: "Probe runs under way."})
	e.runDurations = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portolan_exporter_probe_run_duration_seconds",
		Help: "How long probe runs took, by module.", Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}}, []string{"module"})
	e.reg.MustRegister(e.reloadOK, e.reloadTime, e.modules, e.scrapes, e.runs, e.rejected, e.inFlight, e.runDurations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, reason := range []string{"bad_query", "unknown_module", "unknown_service", "bad_params", "bad_timeout"} {
		e.rejected.WithLabelValues(reason)
	}
	if err := e.Reload(); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload reads the config and the catalog again. On error the config in
// use stays, and portolan_exporter_config_last_reload_successful says 0.
func (e *Exporter) Reload() error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	st, err := e.load()
	if err != nil {
		e.reloadOK.Set(0)
		e.log.Error("reload failed; keeping the config in use", "err", err)
		return err
	}
	e.mu.Lock()
	e.st = st
	e.mu.Unlock()
	e.reloadOK.Set(1)
	e.reloadTime.SetToCurrentTime()
	e.modules.Set(float64(len(st.cfg.Modules)))
	for _, n := range st.cfg.Names() {
		e.scrapes.WithLabelValues(n)
		for _, r := range []string{"success", "failure", "refused", "error"} {
			e.runs.WithLabelValues(n, r)
		}
	}
	e.log.Info("config loaded", "file", e.opt.ConfigFile, "modules", strings.Join(st.cfg.Names(), ","))
	return nil
}

func (e *Exporter) load() (*state, error) {
	cfg, err := Load(e.opt.ConfigFile)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Open(e.opt.CatalogDir)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckServices(e.opt.ConfigFile, cat); err != nil {
		return nil, err
	}
	st := &state{cfg: cfg, cat: cat, lims: map[string]*rate.Limiter{}}
	old := e.state()
	for name, m := range cfg.Modules {
		// A module whose rate stays keeps its limiter, so that runs under
		// way and runs after the reload share it.
		if old != nil && old.lims[name] != nil && old.cfg.Modules[name].Rate == m.Rate {
			st.lims[name] = old.lims[name]
			continue
		}
		st.lims[name] = probe.NewLimiter(m.Rate)
	}
	return st, nil
}

func (e *Exporter) state() *state {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.st
}

// Handler serves the exporter's endpoints.
func (e *Exporter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/probe", e.serveProbe)
	mux.Handle("/metrics", promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST")
			http.Error(w, "reload with POST", http.StatusMethodNotAllowed)
			return
		}
		if err := e.Reload(); err != nil {
			http.Error(w, "reload failed, the config in use stays: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "config reloaded")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "portolan exporter\n\n/probe?service=SERVICE&module=MODULE[&param=NAME=VALUE][&debug=true]\n/metrics\nPOST /-/reload\n\nmodules: %s\n",
			strings.Join(e.state().cfg.Names(), ", "))
	})
	return mux
}

// badRequest answers 400 and counts why.
func (e *Exporter) badRequest(w http.ResponseWriter, reason, format string, args ...any) {
	e.rejected.WithLabelValues(reason).Inc()
	http.Error(w, textsafe.Terminal(fmt.Sprintf(format, args...)), http.StatusBadRequest)
}

// queryKeys are the /probe parameters.
var queryKeys = []string{"service", "module", "param", "debug"}

func (e *Exporter) serveProbe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		http.Error(w, "probe with GET", http.StatusMethodNotAllowed)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		e.badRequest(w, "bad_query", "bad query string: %v", err)
		return
	}
	for k := range q {
		if !slices.Contains(queryKeys, k) {
			e.badRequest(w, "bad_query", "unknown query parameter %q; /probe takes service, module, param (NAME=VALUE, repeatable) and debug", k)
			return
		}
	}
	for _, k := range []string{"service", "module", "debug"} {
		if len(q[k]) > 1 {
			e.badRequest(w, "bad_query", "%s given %d times; give it once", k, len(q[k]))
			return
		}
	}
	svcName, modName, dbg := q.Get("service"), q.Get("module"), q.Get("debug")
	debug := false
	if dbg != "" {
		if debug, err = strconv.ParseBool(dbg); err != nil {
			e.badRequest(w, "bad_query", "debug=%q: true or false", dbg)
			return
		}
	}
	st := e.state()
	if svcName == "" || modName == "" {
		e.badRequest(w, "bad_query", "give service=SERVICE and module=MODULE (modules: %s)", strings.Join(st.cfg.Names(), ", "))
		return
	}
	mod := st.cfg.Modules[modName]
	if mod == nil {
		e.badRequest(w, "unknown_module", "unknown module %q; the config has %s", modName, strings.Join(st.cfg.Names(), ", "))
		return
	}
	svc, err := st.cat.Get(svcName)
	if err != nil {
		e.badRequest(w, "unknown_service", "%v", err)
		return
	}
	if len(mod.Services) > 0 && !slices.Contains(mod.Services, svc.Slug()) {
		e.badRequest(w, "unknown_service", "module %s probes only %s, not %s", modName, strings.Join(mod.Services, ", "), svc.Slug())
		return
	}
	params := q["param"]
	for _, p := range params {
		if k, _, ok := strings.Cut(p, "="); !ok || k == "" {
			e.badRequest(w, "bad_params", "param=%q: write param=NAME=VALUE", p)
			return
		}
	}
	choices, err := resolve.Choose([]*model.Service{svc}, mod.selection(params))
	if err == nil {
		for _, c := range choices {
			if _, err = c.Flows(true); err != nil {
				break
			}
		}
	}
	if err != nil {
		e.badRequest(w, "bad_params", "module %s, service %s: %v", modName, svc.Slug(), strings.ReplaceAll(err.Error(), "--param", "param"))
		return
	}
	timeout, err := e.timeout(r, mod)
	if err != nil {
		e.badRequest(w, "bad_timeout", "%v", err)
		return
	}
	e.scrapes.WithLabelValues(modName).Inc()

	slices.Sort(params)
	key := strings.Join(append([]string{modName, svc.Slug()}, params...), "\x00")
	ch := e.group.DoChan(key, func() (any, error) {
		return e.run(st, mod, choices, timeout), nil
	})
	var o *outcome
	select {
	case res := <-ch:
		o = res.Val.(*outcome)
	case <-r.Context().Done():
		return
	}
	reg := o.registry()
	if debug {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Logs for the probe:\n%s\n", o.log)
		if o.rep != nil && !o.refused {
			fmt.Fprintln(w, "Report:")
			var b bytes.Buffer
			report.ProbeTable(&b, o.rep)
			// Answers of remote hosts (certificate names, SIP headers)
			// reach the table: escape what would drive a terminal.
			for _, l := range strings.Split(b.String(), "\n") {
				fmt.Fprintln(w, textsafe.Terminal(l))
			}
		}
		fmt.Fprintln(w, "Metrics that would have been returned:")
		mfs, _ := reg.Gather()
		enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			enc.Encode(mf)
		}
		return
	}
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// timeout is how long a run may take: Prometheus' scrape timeout less the
// offset, no longer than the module's scrape_timeout when it has one.
func (e *Exporter) timeout(r *http.Request, m *Module) (time.Duration, error) {
	limit := m.ScrapeTimeout
	h := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if h == "" {
		if limit == 0 {
			limit = DefaultScrapeTimeout
		}
		return limit, nil
	}
	s, err := strconv.ParseFloat(h, 64)
	if err != nil || !(s > 0 && s <= 86400) {
		return 0, fmt.Errorf("X-Prometheus-Scrape-Timeout-Seconds %q: seconds, above 0", h)
	}
	d := time.Duration(s * float64(time.Second))
	if d > 2*e.opt.ScrapeOffset {
		d -= e.opt.ScrapeOffset
	} else {
		d /= 2
	}
	if limit > 0 && limit < d {
		d = limit
	}
	return d, nil
}

// run plans and runs one probe within timeout, at the module's shared rate.
func (e *Exporter) run(st *state, m *Module, choices []*resolve.Choice, timeout time.Duration) *outcome {
	e.inFlight.Inc()
	defer e.inFlight.Dec()
	start := time.Now()
	var logb bytes.Buffer
	logf := func(format string, args ...any) {
		fmt.Fprintf(&logb, "%s %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	svc := choices[0].Service.Slug()
	o := &outcome{service: svc}
	result := "error"
	defer func() {
		o.duration = time.Since(start)
		o.log = logb.String()
		e.runs.WithLabelValues(m.Name, result).Inc()
		e.runDurations.WithLabelValues(m.Name).Observe(o.duration.Seconds())
		e.log.Debug("probe run", "module", m.Name, "service", svc, "result", result, "duration", o.duration)
	}()
	checks := m.Checks
	if checks == nil {
		checks = probe.AllChecks
	}
	logf("module %s, service %s: checks %s, rate %g/s, attempt timeout %s, run timeout %s", m.Name, svc,
		strings.Join(checks, ","), m.Rate, m.Timeout, timeout.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	res, err := m.resolver()
	if err != nil {
		o.err = err.Error()
		logf("error: %v", err)
		return o
	}
	cfg := m.probeConfig()
	cfg.Net = e.opt.Net
	cfg.Limiter = st.lims[m.Name]
	plan, err := probe.NewPlan(ctx, choices, res, cfg)
	if err != nil {
		o.err = err.Error()
		logf("error: %v", err)
		return o
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	plan.SetStart(func(total int, expected, longest time.Duration) {
		left := time.Until(deadline)
		logf("plan: %d units of work (ports, connections, trials), expected to take about %s (at most %s); %s left",
			total, expected.Round(time.Millisecond), longest.Round(time.Millisecond), left.Round(time.Millisecond))
		if expected > left {
			o.refused = true
			logf("refused: at rate %g/s the run needs about %s, more than the %s the scrape allows; raise rate, set sample, or lengthen the scrape timeout (scrape_timeout of the job, and of the module)",
				m.Rate, expected.Round(time.Second), left.Round(100*time.Millisecond))
			stop()
		}
	})
	o.rep = plan.Run(runCtx)
	switch {
	case o.refused:
		result = "refused"
	case ctx.Err() != nil:
		logf("timed out after %s: the report covers what was probed so far", timeout.Round(time.Millisecond))
		o.timedOut = true
		result = "failure"
	case o.rep.OK:
		result = "success"
	default:
		result = "failure"
	}
	if o.refused {
		logf("nothing probed")
		return o
	}
	logf("finished in %s: %s", time.Since(start).Round(time.Millisecond), report.Verdict(o.rep))
	return o
}
