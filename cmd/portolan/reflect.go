package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/reflector"
)

func init() { extraCommands = append(extraCommands, newReflectCmd) }

func newReflectCmd(g *globals) *cobra.Command {
	var (
		cfg      reflector.Config
		udpPorts string
		tcpPorts string
		tok      tokenFlags
		stats    time.Duration
		shards   int
		shard    string
	)
	cmd := &cobra.Command{
		Use:   "reflect",
		Short: "Run the reflector that portolan probe talks to",
		Long: `Reflect runs the server portolan probe talks to for what vendors' hosts cannot
answer: which UDP ports of a range get through a firewall, whether a SIP ALG
rewrites what crosses the NAT, how long a UDP NAT binding lives. Run it
outside the network under test (a small cloud machine), and point probes at
it with --reflector HOST --token-file FILE (the same token; it says so when
it starts). The token comes from --token-file FILE, $PORTOLAN_TOKEN or
--token (which ps shows to anyone on the machine).

It answers only requests that prove the token (HMAC-SHA256 over a fresh
nonce, a timestamp within 2 minutes of its clock, and the request; a nonce is
never answered twice), never sends more bytes than the request it answers
carried, rate-limits every source (an IPv4 address or an IPv6 /64), and
bounds what it allocates: sources, pending delayed replies, TCP sessions,
ports, remembered nonces.

It opens one UDP socket per port (--udp-ports), all read through one epoll
set: no firewall change and no root needed on its host (ports below 1024
aside), no conntrack between the probe and the answer, no cap on the flows
one client may have open. 50,000 ports need as many file descriptors: it
raises its limit as far as it may, and where one process still may not
open them all (a container's hard limit) it runs shards, processes that
each open every n-th port and keep 1/n of the rate and bounds.

--listen HOST:PORT is the control port (UDP; it answers like any other);
HOST alone takes port 7478.
--tcp-ports adds TCP ports that accept one proven echo per connection, for
flows to any address over TCP. It runs until interrupted and prints what it
did on stderr every --stats interval and at the end.`,
		Example: `  # A token in a file, to copy to the probes' machine; every port the
  # seed services' flows send to a reflector (root for ports below 1024)
  (umask 077; openssl rand -hex 16 > reflector.token)
  portolan reflect --token-file reflector.token \
      --udp-ports 53,123,500,1025-65535 \
      --tcp-ports 53,80,443,1720,2197,3090,5060-5061,5222-5223,5228-5230,5938,50080-50081

  # The probe side, with a copy of the file
  portolan probe tw-solutions --reflector reflector.example.net --token-file reflector.token

  # One address only (port 7478), a lower rate per source
  portolan reflect --listen 198.51.100.10 --token-file reflector.token --udp-ports 5060 --rate-limit 200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.UDPPorts, err = portSetFlag("--udp-ports", udpPorts); err != nil {
				return err
			}
			if cfg.TCPPorts, err = portSetFlag("--tcp-ports", tcpPorts); err != nil {
				return err
			}
			errw := cmd.ErrOrStderr()
			token, from, err := tok.get(errw, cmd.InOrStdin())
			if shard != "" {
				token, from, err = os.Getenv("PORTOLAN_TOKEN"), "", nil
			}
			if err != nil {
				return err
			}
			if token == "" {
				return fmt.Errorf("--token-file FILE (or $PORTOLAN_TOKEN) is needed; make one with: (umask 077; openssl rand -hex 16 > reflector.token)")
			}
			cfg.Token = []byte(token)
			if shard != "" {
				if _, err := fmt.Sscanf(shard, "%d/%d", &cfg.Shard, &cfg.Shards); err != nil {
					return fmt.Errorf("--shard %q: write I/N", shard)
				}
			}
			srv, err := reflector.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if shard == "" {
				if shards <= 0 {
					shards = reflector.ShardsFor(srv.UDPPorts().Len() + srv.TCPPorts().Len())
				}
				if shards > 1 {
					fmt.Fprintln(errw, probeHint(srv.Addr(), from))
					return runShards(ctx, errw, shards, token, reflectArgs(cmd))
				}
			}
			if err := srv.Start(); err != nil {
				return err
			}
			defer srv.Close()
			who := "portolan reflect"
			if shard != "" {
				who += " shard " + shard
			}
			fmt.Fprintf(errw, "%s: listening on %s; udp %s; tcp %s\n", who, srv.Addr(), srv.UDPPorts(), srv.TCPPorts())
			if shard == "" {
				fmt.Fprintln(errw, probeHint(srv.Addr(), from))
			}
			var tick <-chan time.Time
			if stats > 0 {
				t := time.NewTicker(stats)
				defer t.Stop()
				tick = t.C
			}
			for {
				select {
				case <-ctx.Done():
					srv.Close()
					fmt.Fprintf(errw, "%s: stopped; %s\n", who, statsLine(srv.Stats()))
					return nil
				case <-tick:
					fmt.Fprintf(errw, "%s: %s\n", who, statsLine(srv.Stats()))
				}
			}
		},
	}
	d := reflector.DefaultConfig
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", fmt.Sprintf(":%d", reflector.DefaultPort), fmt.Sprintf("control address HOST:PORT, or HOST alone for port %d (empty HOST: every address, IPv4 and IPv6)", reflector.DefaultPort))
	f.StringVar(&udpPorts, "udp-ports", "", "UDP ports and ranges to answer on besides the control port, e.g. 123,5060-5080,10000-60000")
	f.StringVar(&tcpPorts, "tcp-ports", "", "TCP ports and ranges to accept echo connections on, e.g. 80,443,5938")
	tok.register(f)
	f.Float64Var(&cfg.Rate, "rate-limit", d.Rate, "replies per second to one source")
	f.IntVar(&cfg.Burst, "burst", 0, "replies one source may get at once (default: the rate limit)")
	f.DurationVar(&cfg.MaxDelay, "max-delay", d.MaxDelay, "longest delay a NAT-timeout trial may ask")
	f.IntVar(&cfg.MaxPending, "max-pending", d.MaxPending, "delayed replies waiting, in all")
	f.IntVar(&cfg.MaxPendingPerSource, "max-pending-per-source", d.MaxPendingPerSource, "delayed replies waiting for one source")
	f.IntVar(&cfg.MaxSources, "max-sources", d.MaxSources, "sources remembered at once for rate limits")
	f.IntVar(&cfg.MaxPorts, "max-ports", d.MaxPorts, "ports (UDP and TCP) it may open")
	f.IntVar(&cfg.MaxSessions, "max-sessions", d.MaxSessions, "TCP connections at once")
	f.DurationVar(&stats, "stats", time.Minute, "print counters on stderr this often (0: only at the end)")
	f.IntVar(&shards, "shards", 0, "run this many processes, each opening every n-th port (default: as many as the open-file limit needs)")
	f.StringVar(&shard, "shard", "", "be shard I of N (set by the parent process)")
	f.MarkHidden("shard")
	return cmd
}

// reflectArgs are the command's flags as given, without those the parent
// keeps to itself (the token goes to the shards in the environment, out
// of sight of ps).
func reflectArgs(cmd *cobra.Command) []string {
	args := []string{"reflect"}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "token", "token-file", "shards", "shard":
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	return args
}

// runShards runs n copies of this command as shard processes, shows
// their output line by line, and stops them all when ctx ends or when one
// stops by itself.
func runShards(ctx context.Context, errw io.Writer, n int, token string, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	type shardProc struct {
		cmd  *exec.Cmd
		done chan error
	}
	var mu sync.Mutex
	ready := make(chan int, n)
	var procs []*shardProc
	stopAll := func() {
		for _, p := range procs {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				p.cmd.Process.Kill()
				<-p.done
			}
		}
	}
	exited := make(chan int, n)
	for i := range n {
		c := exec.Command(exe, append(args, fmt.Sprintf("--shard=%d/%d", i, n))...)
		c.Env = append(os.Environ(), "PORTOLAN_TOKEN="+token)
		c.SysProcAttr = shardAttr()
		out, err := c.StderrPipe()
		if err != nil {
			return err
		}
		if err := c.Start(); err != nil {
			stopAll()
			return fmt.Errorf("shard %d: %v", i, err)
		}
		p := &shardProc{cmd: c, done: make(chan error, 1)}
		procs = append(procs, p)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				mu.Lock()
				fmt.Fprintln(errw, line)
				mu.Unlock()
				if strings.Contains(line, ": listening on ") {
					ready <- i
				}
			}
			p.done <- c.Wait()
			exited <- i
		}()
	}
	timeout := time.After(time.Minute)
	for up := 0; up < n; {
		select {
		case <-ready:
			up++
		case i := <-exited:
			stopAll()
			return fmt.Errorf("shard %d/%d stopped while starting", i, n)
		case <-timeout:
			stopAll()
			return fmt.Errorf("the shards did not start within a minute")
		case <-ctx.Done():
			stopAll()
			return nil
		}
	}
	mu.Lock()
	fmt.Fprintf(errw, "portolan reflect: %d shards up (the open-file limit allows %d sockets per process)\n", n, reflector.FileLimit())
	mu.Unlock()
	select {
	case <-ctx.Done():
		stopAll()
		return nil
	case i := <-exited:
		stopAll()
		return fmt.Errorf("shard %d/%d stopped by itself", i, n)
	}
}

// portSetFlag parses a list of ports and ranges.
func portSetFlag(flag, v string) (model.PortSet, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return model.PortSet{}, nil
	}
	rs, err := model.ParsePortList(v)
	if err != nil {
		return model.PortSet{}, fmt.Errorf("%s %q: %v", flag, v, err)
	}
	return model.NewPortSet(rs...), nil
}

func statsLine(s reflector.Stats) string {
	return fmt.Sprintf("received %d, answered %d (%d SIP), probes' SIP ACKs %d, bytes in %d out %d; refused: bad token %d, stale %d, replayed %d, rate-limited %d, would amplify %d, over a bound %d; tcp closed before proof %d",
		s.Received, s.Answered, s.SIP, s.SIPACK, s.BytesIn, s.BytesOut, s.BadMAC, s.Stale, s.Replayed, s.RateLimited, s.TooLarge, s.Refused, s.Evicted)
}

// probeHint tells how a probe reuses this reflector's token.
func probeHint(addr, from string) string {
	host, port, _ := net.SplitHostPort(addr)
	if a, err := netip.ParseAddr(host); err != nil || a.IsUnspecified() {
		host = "THIS-HOST"
	}
	target := net.JoinHostPort(host, port)
	if port == strconv.Itoa(reflector.DefaultPort) {
		target = host
	}
	how := "--token-file FILE (FILE holding the same token)"
	switch {
	case strings.HasPrefix(from, "--token-file ") && from != "--token-file -":
		how = from + " (a copy of it)"
	case from == "$PORTOLAN_TOKEN":
		how = "with PORTOLAN_TOKEN set to the same token"
	}
	return fmt.Sprintf("portolan reflect: probes use it with: portolan probe SERVICE... --reflector %s %s", target, how)
}
