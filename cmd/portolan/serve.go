package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/web"
)

func init() { extraCommands = append(extraCommands, newServeCmd) }

// maxAuthFile bounds what --auth reads.
const maxAuthFile = 1 << 20

func newServeCmd(g *globals) *cobra.Command {
	var (
		listen, authFile, certFile, keyFile string
		pf                                  planFlags
		tok                                 tokenFlags
		proxy, caFile                       string
		cfg                                 probe.Config
		opt                                 web.Options
	)
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Serve the web interface: catalog, rules, audit and probe in a browser",
		Long: `Serve portolan's web interface, one binary with its pages embedded:

  /                    the catalog, searchable
  /services/SLUG       a service's flows and constraints, each with its quote
                       and document line; features and params as a form;
                       rules for every --target from that form, shown and
                       downloadable; an audit of a pasted or uploaded
                       ruleset (failing flows first, with the deciding rule
                       and a witness packet); a probe run from this machine
  /runs                the last probe runs, their progress and HTML reports

It listens on 127.0.0.1:8478 and answers only to localhost names. Any
other --listen address needs --auth (an htpasswd file of bcrypt hashes,
htpasswd -B, or a file holding one token) and TLS (--tls-cert, --tls-key):
without them serve refuses to start.

Names resolve as for "portolan rules": --hosts FILE first, then DNS
(--dns), or no DNS at all with --no-resolve. A probe run sends only to the
catalog's hosts, the reflector (--reflector, --token-file) and the proxy
(--proxy) given here, at --rate at most; a page chooses only the checks,
the sample and the endpoints. Every POST carries a CSRF token, a request
body is bounded by --max-upload and read into memory only (nothing
uploaded is stored), at most --max-runs probe runs go at once and the last
--keep-runs are kept.`,
		Example: `  # On this machine, in a browser at http://127.0.0.1:8478/
  portolan serve

  # Air-gapped: names pinned, no DNS asked
  portolan serve --hosts pins.txt --no-resolve

  # For the team: basic auth and TLS, probes through a reflector
  htpasswd -B -c users.htpasswd alice
  portolan serve --listen 0.0.0.0:8478 --auth users.htpasswd \
    --tls-cert cert.pem --tls-key key.pem \
    --reflector reflector.example.net --token-file reflector.token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return fmt.Errorf("--listen %q: write HOST:PORT, such as 127.0.0.1:8478", listen)
			}
			if opt.MaxUpload <= 0 || opt.MaxRuns <= 0 || opt.KeepRuns <= 0 {
				return fmt.Errorf("--max-upload, --max-runs and --keep-runs must be above 0")
			}
			if (certFile == "") != (keyFile == "") {
				return fmt.Errorf("--tls-cert and --tls-key go together")
			}
			if !web.IsLoopbackListen(listen) && (authFile == "" || certFile == "") {
				return fmt.Errorf("--listen %s is not a loopback address: serving others needs --auth FILE (htpasswd -B, or a token) and --tls-cert/--tls-key", listen)
			}
			if authFile != "" {
				data, err := safeio.ReadFile(authFile, maxAuthFile, nil)
				if err != nil {
					return fmt.Errorf("--auth: %v", err)
				}
				if opt.Auth, err = web.ParseAuth("--auth "+authFile, data); err != nil {
					return err
				}
			}
			var tlsCfg *tls.Config
			if certFile != "" {
				cert, err := tls.LoadX509KeyPair(certFile, keyFile)
				if err != nil {
					return fmt.Errorf("--tls-cert/--tls-key: %v", err)
				}
				tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
				opt.TLS = true
			}
			if err := serveResolvers(g, &pf, &opt); err != nil {
				return err
			}
			token, _, err := tok.get(cmd.ErrOrStderr(), cmd.InOrStdin())
			if err != nil {
				return err
			}
			cfg.Token = []byte(token)
			if cfg.Rate <= 0 || cfg.Concurrency <= 0 || cfg.Timeout <= 0 {
				return fmt.Errorf("--rate, --concurrency and --timeout must be above 0")
			}
			if cfg.Proxy, cfg.ProxyName, err = proxyFunc(proxy); err != nil {
				return err
			}
			if caFile != "" {
				if cfg.RootCAs, err = loadCAs(caFile); err != nil {
					return err
				}
			}
			opt.Probe, opt.CatalogDir, opt.Version, opt.Log = cfg, g.catalogDir, version, cmd.ErrOrStderr()
			srv, err := web.New(opt)
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %v", listen, err)
			}
			hs := &http.Server{Handler: srv.Handler(), TLSConfig: tlsCfg,
				ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
			scheme := "http"
			if tlsCfg != nil {
				scheme = "https"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "portolan serve: listening on %s://%s/\n", scheme, ln.Addr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			errc := make(chan error, 1)
			go func() {
				if tlsCfg != nil {
					errc <- hs.ServeTLS(ln, "", "")
				} else {
					errc <- hs.Serve(ln)
				}
			}()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", web.DefaultListen, "HOST:PORT to listen on; anything but a loopback address needs --auth and --tls-cert/--tls-key")
	f.StringVar(&authFile, "auth", "", "require sign-in: an htpasswd file of bcrypt hashes (htpasswd -B) or a file holding one token")
	f.StringVar(&certFile, "tls-cert", "", "serve https with this PEM certificate (chain)")
	f.StringVar(&keyFile, "tls-key", "", "the PEM private key of --tls-cert")
	f.StringVar(&pf.hosts, "hosts", "", "pin names to addresses from a hosts(5) file, asked before DNS")
	f.StringArrayVar(&pf.dns, "dns", nil, "DNS server HOST:PORT to ask (repeatable; default: /etc/resolv.conf's)")
	f.BoolVar(&pf.noResolve, "no-resolve", false, "ask no DNS: only names pinned with --hosts have addresses")
	f.StringVar(&opt.SourceCache, "source-cache", "", "where host sets' published lists (feed:) are cached, the last good copy used when a fetch fails (default $XDG_CACHE_HOME/portolan/sources)")
	f.Int64Var(&opt.MaxUpload, "max-upload", web.DefaultMaxUpload, "the largest request body (an uploaded ruleset) in bytes")
	f.IntVar(&opt.MaxRuns, "max-runs", web.DefaultMaxRuns, "probe runs at once")
	f.IntVar(&opt.KeepRuns, "keep-runs", web.DefaultKeepRuns, "finished probe runs kept with their reports")
	f.StringVar(&cfg.Reflector, "reflector", "", "the portolan reflector HOST[:PORT] probe runs use for UDP ranges, SIP ALG and NAT timeout")
	tok.register(f)
	f.StringVar(&proxy, "proxy", "", "web proxy URL for flows that go through one (default $HTTPS_PROXY; none: no proxy)")
	f.StringVar(&caFile, "ca", "", "PEM file of CA certificates to trust besides the system's")
	f.IntVar(&cfg.Concurrency, "concurrency", probe.DefaultConcurrency, "probe: connections and exchanges at once, per run")
	f.Float64Var(&cfg.Rate, "rate", probe.DefaultRate, "probe: packets and connection attempts per second, per run")
	f.DurationVar(&cfg.Timeout, "timeout", probe.DefaultTimeout, "probe: how long each attempt waits")
	return cmd
}

// serveResolvers sets how the server resolves names, from the flags that
// rules has: the resolvers rules and probe build, their descriptions for
// the comments (targets that keep names' sets for portolan sync, nftables,
// say it otherwise), and the flags that make the CLI do the same.
func serveResolvers(g *globals, pf *planFlags, opt *web.Options) error {
	var err error
	if opt.Resolver, opt.ResolverInfo, err = pf.resolver(true, false); err != nil {
		return err
	}
	if _, opt.SyncResolverInfo, err = pf.resolver(true, true); err != nil {
		return err
	}
	opt.NoResolve = pf.noResolve
	if pf.hosts != "" {
		opt.ResolveArgs = append(opt.ResolveArgs, "--hosts "+flagValue("hosts", pf.hosts))
	}
	for _, d := range pf.dns {
		opt.ResolveArgs = append(opt.ResolveArgs, "--dns "+shellQuote(d))
	}
	if pf.noResolve {
		opt.ResolveArgs = append(opt.ResolveArgs, "--no-resolve")
	}
	if g.catalogDir != "" {
		opt.CatalogArgs = []string{"--catalog " + flagValue("catalog", g.catalogDir)}
	}
	opt.ProbeResolver, err = probeResolver(pf.hosts, pf.dns, pf.noResolve)
	return err
}
