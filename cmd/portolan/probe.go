package main

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/http/httpproxy"
	"golang.org/x/term"

	"github.com/portolan/portolan/internal/atomicfile"
	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/report"
	"github.com/portolan/portolan/resolve"
)

func init() { extraCommands = append(extraCommands, newProbeCmd) }

func newProbeCmd(g *globals) *cobra.Command {
	var (
		sel        selectFlags
		checks     []string
		cfg        probe.Config
		tok        tokenFlags
		proxy      string
		hosts      string
		dns        []string
		noResolve  bool
		caFile     string
		output     string
		outFile    string
		noProgress bool
	)
	cmd := &cobra.Command{
		Use:   "probe SERVICE...",
		Short: "Prove from inside the network that the services' flows get through",
		Long: `Probe checks, from where it runs, that every flow the services need really
gets through this network, and finds the middleboxes that break calls while
ports look open: SIP ALGs, short NAT timeouts, SSL-inspecting and NTLM-only
proxies.

Checks (--check, default all):
  dns          every name resolves; addresses and TTL listed
  tcp          connect to each host and port the catalog names
  tls          handshake; version against the document's minimum; the
               certificate verified for the name; SSL inspection detected
               and the issuer that re-signed it named
  proxy        HTTP CONNECT through --proxy or $HTTPS_PROXY, Basic auth
               from the URL; a proxy offering only NTLM/Negotiate/Digest is
               incompatible where the document says Basic only (Pexip)
  stun         RFC 5389 binding to the service's STUN hosts: mapped address,
               NAT, MAPPED vs XOR-MAPPED mismatch (an ALG); 3 tries, 1.75 s
  udp          every port of each UDP flow (or --sample N of each range)
               through a reflector: open or blocked, port by port
  sip-alg      a well-formed INVITE with SDP to the reflector, which answers
               with what arrived: each header rewritten on the way is named
  nat-timeout  how long a UDP NAT binding lives; by default only whether it
               lives the document's minimum (TW Solutions: 90 s), with
               --nat-measure to the second
  fallback     the order a client tries its ways out (StarLeaf: UDP 24704,
               3478, 1194, 500, 123, then TCP 443): which one works here;
               a working fallback is a warning, not a failure

Where it sends: only to the hosts the catalog names (resolved with --hosts
pins first, then DNS), to --endpoint names and addresses you give inside the
catalog's wildcards and address blocks, to the reflector and to the proxy.
Vendors' hosts do not answer arbitrary UDP, and "any address" names no host:
those flows go to a portolan reflector (see portolan reflect) standing in
for them, or are reported as not probed, with the reason. Inbound flows are
not probed from inside.

The rate (--rate, packets and connection attempts per second) is low by
default: every probe is a connection-tracking entry on the firewall for
about 30 s, so the rate bounds the entries a run adds (100 pps: about
3,000). A full 50,000-port range at 100 pps takes 8 minutes; raise --rate
or --sample N.

Before it starts it says how long the run is expected to take; then it
shows a progress bar on a terminal, or a progress line every 5 s on a
stderr that is not one (a log, CI).

Output: a table, --output json for
scripts, --output html for one self-contained page to attach to a change
ticket; -o FILE writes it atomically.

Exit codes: 0 every required flow and constraint checked works; 1 one does
not (or could not be decided), or nothing at all could be probed; 2 usage
error. Flows not probed do not fail a run that probed others.`,
		Example: `  # What works from here for StarLeaf (names resolved by DNS)
  portolan probe starleaf --param company=acme

  # UDP ranges, SIP ALG and NAT timeout through your reflector
  portolan probe tw-solutions --reflector reflector.example.net --token-file reflector.token

  # Only the middlebox checks, measuring the NAT timeout to the second
  portolan probe tw-solutions --check sip-alg,nat-timeout --nat-measure \
      --reflector 198.51.100.10 --token-file reflector.token

  # Onsight through the company proxy; *.librestream.com names no host, so
  # name one under it
  portolan probe onsight --proxy http://user:secret@proxy.example.com:3128 \
      --endpoint app.librestream.com --check proxy,tls

  # A report for the change ticket
  portolan probe pexip --param service_network=198.51.100.20 --output html -o probe.html`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: g.serviceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := report.CheckFormat(output, report.Table, report.JSON, report.HTML); err != nil {
				return err
			}
			var err error
			if cfg.Checks, err = probe.ParseChecks(checks); err != nil {
				return err
			}
			token, _, err := tok.get(cmd.ErrOrStderr(), cmd.InOrStdin())
			if err != nil {
				return err
			}
			cfg.Token = []byte(token)
			if cfg.Rate <= 0 || cfg.Concurrency <= 0 || cfg.Sample < 0 || cfg.Timeout <= 0 {
				return fmt.Errorf("--rate, --concurrency and --timeout must be above 0, --sample at least 0")
			}
			if cfg.Proxy, cfg.ProxyName, err = proxyFunc(proxy); err != nil {
				return err
			}
			if caFile != "" {
				if cfg.RootCAs, err = loadCAs(caFile); err != nil {
					return err
				}
			}
			r, err := probeResolver(hosts, dns, noResolve)
			if err != nil {
				return err
			}
			choices, err := g.choose(args, &sel)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			plan, err := probe.NewPlan(ctx, choices, r, cfg)
			if err != nil {
				return err
			}
			bar := newProgress(cmd.ErrOrStderr(), noProgress)
			plan.SetStart(bar.start)
			plan.SetProgress(bar.update)
			rep := plan.Run(ctx)
			bar.finish()
			write := func(w io.Writer) error {
				switch output {
				case report.JSON:
					return report.WriteJSON(w, rep)
				case report.HTML:
					return report.ProbeHTML(w, rep)
				}
				// Answers of remote hosts (certificate names, SIP headers)
				// reach the table: escape what would drive a terminal.
				return terminalTable(func(w io.Writer) error { return report.ProbeTable(w, rep) })(w)
			}
			if outFile != "" {
				if err := atomicfile.Write(outFile, 0o644, write); err != nil {
					return err
				}
			} else if err := write(cmd.OutOrStdout()); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return failed("interrupted: the report covers what was probed so far")
			}
			if !rep.OK {
				if outFile != "" {
					return failed(report.Verdict(rep))
				}
				return failed("")
			}
			return nil
		},
	}
	f := cmd.Flags()
	sel.register(f)
	f.StringSliceVar(&checks, "check", nil, "checks to run, comma-separated: "+strings.Join(probe.AllChecks, ", ")+" (default all)")
	f.StringVar(&cfg.Reflector, "reflector", "", "a portolan reflector HOST[:PORT] (port 7478 by default) for UDP ranges, flows to any address, SIP ALG and NAT timeout")
	tok.register(f)
	f.StringVar(&proxy, "proxy", "", "web proxy URL for flows that go through one (http://USER:PASS@HOST:PORT; default $HTTPS_PROXY, honouring $NO_PROXY; none: no proxy)")
	f.StringArrayVar(&cfg.Endpoints, "endpoint", nil, "a name under a wildcard domain (app.librestream.com) or an address inside an address block that a flow covers without naming it: probe it for those flows (repeatable)")
	f.StringVar(&hosts, "hosts", "", "pin names to addresses from a hosts(5) file, asked before DNS")
	f.StringArrayVar(&dns, "dns", nil, "DNS server HOST:PORT to ask (repeatable; default: /etc/resolv.conf's)")
	f.BoolVar(&noResolve, "no-resolve", false, "ask no DNS: only names pinned with --hosts have addresses")
	f.StringVar(&caFile, "ca", "", "PEM file of CA certificates to trust besides the system's (your own servers' CA); an inspection product's CA is flagged by its name even when trusted")
	f.IntVar(&cfg.Concurrency, "concurrency", probe.DefaultConcurrency, "connections and exchanges at once")
	f.Float64Var(&cfg.Rate, "rate", probe.DefaultRate, "packets and connection attempts per second, in all")
	f.IntVar(&cfg.Sample, "sample", 0, "probe N ports of each range, spread evenly, instead of every one (0: every port; TCP ranges to vendors' hosts are always sampled, 3 ports by default)")
	f.DurationVar(&cfg.Timeout, "timeout", probe.DefaultTimeout, "how long each attempt waits")
	f.BoolVar(&cfg.NATMeasure, "nat-measure", false, "measure the NAT binding lifetime to the second instead of only checking the document's minimum")
	f.DurationVar(&cfg.NATMax, "nat-max", 0, "with --nat-measure, the longest lifetime to try (default twice the document's minimum, or 3m)")
	f.StringVar(&output, "output", report.Table, "table, json or html")
	f.StringVarP(&outFile, "output-file", "o", "", "write the report to FILE (atomically) instead of stdout")
	f.BoolVar(&noProgress, "no-progress", false, "no progress bar on a terminal, no progress lines elsewhere")
	return cmd
}

// proxyFunc returns how flows that go through a web proxy find it: the
// --proxy URL, or the environment's (HTTPS_PROXY, https_proxy, NO_PROXY).
func proxyFunc(flag string) (func(string) (*url.URL, error), string, error) {
	switch flag {
	case "none", "off", "direct":
		return nil, "", nil
	case "":
		env := httpproxy.FromEnvironment()
		if env.HTTPSProxy == "" {
			return nil, "", nil
		}
		fn := env.ProxyFunc()
		u, err := url.Parse("https://" + "example.invalid")
		if err != nil {
			return nil, "", err
		}
		if _, err := fn(u); err != nil {
			return nil, "", fmt.Errorf("HTTPS_PROXY: %v", err)
		}
		pu, _ := url.Parse(env.HTTPSProxy)
		name := "$HTTPS_PROXY"
		if pu != nil {
			name += " " + pu.Redacted()
		}
		return func(hostport string) (*url.URL, error) {
			return fn(&url.URL{Scheme: "https", Host: hostport})
		}, name, nil
	}
	u, err := url.Parse(flag)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, "", fmt.Errorf("--proxy %q: write http://[USER:PASS@]HOST:PORT (or https://…, or none)", flag)
	}
	return func(string) (*url.URL, error) { return u, nil }, "--proxy " + u.Redacted(), nil
}

// loadCAs returns the system's roots with the certificates of file added.
func loadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--ca: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// probeResolver builds the resolvers the flags ask for: --hosts pins
// first, then DNS unless --no-resolve.
func probeResolver(hosts string, servers []string, noResolve bool) (resolve.Resolver, error) {
	var chain resolve.Chain
	if hosts != "" {
		h, err := resolve.LoadHosts(hosts)
		if err != nil {
			return nil, fmt.Errorf("--hosts: %v", err)
		}
		chain = append(chain, h)
	}
	if !noResolve {
		d, err := resolve.NewDNS(servers...)
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

// progressEvery is how often progress lines are written when stderr is
// not a terminal.
var progressEvery = 5 * time.Second

// progress tells on stderr how far a run is: before it starts, how long
// it is expected to take (when that is more than a few seconds); then on
// a terminal a bar, "[#####.....]  45%  1234/2700", at most ten times a
// second; elsewhere (a log, a pipe) one line every progressEvery.
type progress struct {
	w     io.Writer
	term  bool
	off   bool
	mu    sync.Mutex
	done  int
	total int
	t0    time.Time
	exp   time.Duration
	last  time.Time
	drew  bool
	stop  chan struct{}
	ended chan struct{}
}

func newProgress(w io.Writer, off bool) *progress {
	b := &progress{w: w, off: off}
	if f, ok := w.(*os.File); ok {
		b.term = term.IsTerminal(int(f.Fd()))
	}
	return b
}

// start states the work and the expected duration, and starts the lines.
func (b *progress) start(total int, expected, longest time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t0, b.total, b.exp = time.Now(), total, expected
	if longest >= progressEvery {
		more := ""
		if longest > expected+expected/10 {
			more = fmt.Sprintf(" (up to %s: a NAT measurement takes as long as the bindings live)", longest.Round(time.Second))
		}
		fmt.Fprintf(b.w, "portolan probe: %d units of work (ports, connections, trials); expected to take about %s%s\n",
			total, expected.Round(time.Second), more)
	}
	if b.term || b.off {
		return
	}
	b.stop, b.ended = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(b.ended)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.line()
			}
		}
	}()
}

// line writes one progress line.
func (b *progress) line() {
	b.mu.Lock()
	defer b.mu.Unlock()
	pct := 0
	if b.total > 0 {
		pct = b.done * 100 / b.total
	}
	of := ""
	if b.exp > 0 {
		of = fmt.Sprintf(" of about %s", b.exp.Round(time.Second))
	}
	fmt.Fprintf(b.w, "portolan probe: %d/%d done (%d%%), %s elapsed%s\n", b.done, b.total, pct, time.Since(b.t0).Round(time.Second), of)
}

func (b *progress) update(done, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.total = done, total
	if !b.term || b.off || total == 0 {
		return
	}
	if time.Since(b.last) < 100*time.Millisecond && done < total {
		return
	}
	b.last = time.Now()
	const width = 30
	n := done * width / total
	fmt.Fprintf(b.w, "\r[%s%s] %3d%%  %d/%d ", strings.Repeat("#", n), strings.Repeat(".", width-n), done*100/total, done, total)
	b.drew = true
}

func (b *progress) finish() {
	if b.stop != nil {
		close(b.stop)
		<-b.ended
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drew {
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", 60))
	}
}
