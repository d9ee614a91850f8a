package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/exporter"
	"github.com/portolan/portolan/probe"
)

func init() { extraCommands = append(extraCommands, newExporterCmd) }

func newExporterCmd(g *globals) *cobra.Command {
	var (
		configFile string
		listen     string
		check      bool
		logLevel   string
		offset     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "exporter --config FILE",
		Short: "Serve probe results to Prometheus, like blackbox_exporter",
		Long: `Exporter runs the probe (the same checks as portolan probe) when Prometheus
asks, and answers with metrics, in the shape blackbox_exporter users know:

  GET /probe?service=SERVICE&module=MODULE   run module MODULE for SERVICE
        [&param=NAME=VALUE]...               params of the service (repeatable)
        [&debug=true]                        the run's log and report instead
  GET /metrics                               the exporter's own metrics
  POST /-/reload                             read the config again (so does SIGHUP)

A module is the probe's flags as YAML keys:

  modules:
    rtp:
      checks: [udp, sip-alg]        # --check (default all)
      reflector: 198.51.100.2:7478  # --reflector
      token_file: /etc/portolan/token
      rate: 20000                   # --rate, packets per second
      sample: 200                   # --sample
      timeout: 1s                   # --timeout, each attempt
      params: {company: acme}       # --param NAME=VALUE
      features: [webrtc]            # --feature (no_features, all_features, platforms)
      hosts: /etc/portolan/hosts    # --hosts (dns, no_resolve, endpoints, ca)
      proxy: none                   # --proxy URL, env ($HTTPS_PROXY) or none (default)
      nat_measure: false            # --nat-measure (nat_max)
      services: [tw-solutions]      # only these services (default any)
      scrape_timeout: 30s           # without X-Prometheus-Scrape-Timeout-Seconds

Unknown keys are errors, with their line and column; relative file names
are relative to the config's directory.

Metrics of /probe: probe_success, probe_duration_seconds,
portolan_check_success{service,flow,check}, portolan_check_required,
portolan_udp_ports{service,flow,state="open|blocked|not_probed"},
portolan_udp_blocked_range{service,flow,range}, portolan_sip_alg_detected,
portolan_sip_alg_rewritten{where}, portolan_nat_binding_seconds,
portolan_nat_binding_expired_seconds, portolan_nat_binding_min_seconds (the
document's minimum), portolan_tls_intercepted{service,host},
portolan_tls_verified, portolan_proxy_compatible, portolan_stun_mismatch,
portolan_fallback_chosen, portolan_results{status}, portolan_probe_refused.

A run gets Prometheus' scrape timeout (X-Prometheus-Scrape-Timeout-Seconds)
less --timeout-offset. Before it sends anything, it states how long it needs
at the module's rate; a run that needs more than the scrape allows is not
started (portolan_probe_refused 1, probe_success 0). Runs of one module share
its rate, and concurrent scrapes of the same service and module share one
run. monitoring/portolan.rules.yml (alerts) and
monitoring/grafana-dashboard.json ship with the source.

Exit codes: 0 stopped by a signal, or --check found the config good; 2 bad
config, flags or listen address.`,
		Example: `  # Check the config, then serve on 127.0.0.1:9478
  portolan exporter --config /etc/portolan/exporter.yml --check
  portolan exporter --config /etc/portolan/exporter.yml

  # What Prometheus would get, with the run's log
  curl '127.0.0.1:9478/probe?service=tw-solutions&module=rtp&debug=true'

  # Reload after editing the config
  curl -X POST 127.0.0.1:9478/-/reload     # or: kill -HUP PID`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if configFile == "" {
				return fmt.Errorf("--config FILE is required (see portolan exporter --help for its shape)")
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: debug, info, warn or error", logLevel)
			}
			if check {
				cfg, err := exporter.Load(configFile)
				if err != nil {
					return err
				}
				cat, err := g.open()
				if err != nil {
					return err
				}
				if err := cfg.CheckServices(configFile, cat); err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				for _, name := range cfg.Names() {
					m := cfg.Modules[name]
					checks := m.Checks
					if checks == nil {
						checks = probe.AllChecks
					}
					via := ""
					if m.Reflector != "" {
						via = ", reflector " + m.Reflector
					}
					fmt.Fprintf(out, "module %s: checks %s%s, rate %g/s\n", name, strings.Join(checks, ","), via, m.Rate)
				}
				fmt.Fprintf(out, "%s: OK, %d modules\n", configFile, len(cfg.Modules))
				return nil
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			e, err := exporter.New(exporter.Options{ConfigFile: configFile, CatalogDir: g.catalogDir, Log: log, ScrapeOffset: offset})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %v", listen, err)
			}
			if ap, err := net.ResolveTCPAddr("tcp", ln.Addr().String()); err == nil && !ap.IP.IsLoopback() {
				log.Warn("listening beyond loopback: anyone who reaches this address can make the exporter probe; firewall it to Prometheus", "listen", ln.Addr().String())
			}
			srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-hup:
						e.Reload()
					case <-ctx.Done():
						return
					}
				}
			}()
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			log.Info("listening", "address", ln.Addr().String())
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "the exporter's YAML config: modules (see above)")
	f.StringVar(&listen, "listen", exporter.DefaultListen, "HOST:PORT to serve on")
	f.BoolVar(&check, "check", false, "check the config (and the files it names) and exit: 0 good, 2 bad")
	f.StringVar(&logLevel, "log-level", "info", "debug (one line per run), info, warn or error")
	f.DurationVar(&offset, "timeout-offset", exporter.DefaultScrapeOffset, "taken off Prometheus' scrape timeout so the answer arrives in time")
	return cmd
}
