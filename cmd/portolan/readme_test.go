package main

// The README's commands are run as written, so that the README cannot go
// stale: every command of a sh/shell/bash code block that starts with
// "portolan" or "go run ./cmd/portolan" runs through run(), in a network
// namespace of its own whose only DNS server is the test's, answering every
// name with documentation addresses; nothing leaves the machine. A block
// that cannot run (it needs the network, a reflector, a loaded ruleset) is
// marked on the line before it:
//
//	<!-- readme-test: skip (needs a reflector) -->
//
// and counted and listed as skipped. Pipelines into jq run jq; other
// commands after a pipe (nft, iptables-restore) and lines that are not
// portolan's (go install, make) are not run. -o FILE and > FILE write into
// the test's temporary directory, never where the README says.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"

	"github.com/portolan/portolan/internal/testenv"
)

// readmeCmd is one command of the README.
type readmeCmd struct {
	line   int    // line of README.md where it starts
	text   string // as written, continuations joined
	skip   string // the block's skip reason, "" to run
	block  int    // line of the block's opening fence
	words  []string
	after  [][]string // pipeline stages after portolan's
	stdout string     // > FILE
	err    error      // why it cannot run as written
}

var (
	readmeMarker  = regexp.MustCompile(`^<!--\s*readme-test:\s*(.*?)\s*-->\s*$`)
	readmeSkip    = regexp.MustCompile(`^skip \((.+)\)$`)
	readmeMention = regexp.MustCompile(`(^|[\s|;&(])(portolan|go run \./cmd/portolan)(\s|$)`)
)

// readmeCommands returns the portolan commands of the README's shell code
// blocks.
func readmeCommands(src string) ([]readmeCmd, error) {
	var (
		cmds    []readmeCmd
		inBlock bool
		shell   bool
		skip    string
		marked  int // line of a marker waiting for its block
		block   int
		pending strings.Builder
		start   int
	)
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		n := i + 1
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "```") {
			if !inBlock {
				inBlock, block = true, n
				info := strings.Fields(strings.TrimPrefix(trimmed, "```"))
				shell = len(info) > 0 && (info[0] == "sh" || info[0] == "shell" || info[0] == "bash")
				if marked == 0 {
					skip = ""
				}
				marked = 0
				continue
			}
			inBlock, skip = false, ""
			continue
		}
		if !inBlock {
			if m := readmeMarker.FindStringSubmatch(trimmed); m != nil {
				s := readmeSkip.FindStringSubmatch(m[1])
				if s == nil {
					return nil, fmt.Errorf("README.md:%d: marker %q: write <!-- readme-test: skip (reason) -->", n, trimmed)
				}
				if marked != 0 {
					return nil, fmt.Errorf("README.md:%d: marker without a code block after it", marked)
				}
				skip, marked = s[1], n
			} else if trimmed != "" && marked != 0 {
				return nil, fmt.Errorf("README.md:%d: marker not right before a code block", marked)
			}
			continue
		}
		if !shell {
			continue
		}
		if pending.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(l, `\`); ok {
			pending.WriteString(body)
			continue
		}
		pending.WriteString(l)
		text := strings.TrimSpace(pending.String())
		pending.Reset()
		text = strings.TrimSpace(strings.TrimPrefix(text, "$ "))
		if text == "" || strings.HasPrefix(text, "#") || !readmeMention.MatchString(text) {
			continue
		}
		c := readmeCmd{line: start, text: text, skip: skip, block: block}
		if skip == "" {
			c.parse()
		}
		cmds = append(cmds, c)
	}
	if marked != 0 {
		return nil, fmt.Errorf("README.md:%d: marker without a code block after it", marked)
	}
	return cmds, nil
}

// parse splits the command into words and pipeline stages as sh would,
// or sets err when it cannot be run as written.
func (c *readmeCmd) parse() {
	stages, stdout, err := shellSplit(c.text)
	if err != nil {
		c.err = err
		return
	}
	first := stages[0]
	switch {
	case len(first) > 0 && first[0] == "portolan":
		c.words = first[1:]
	case len(first) > 2 && first[0] == "go" && first[1] == "run" && first[2] == "./cmd/portolan":
		c.words = first[3:]
	default:
		c.err = errors.New("portolan is not the first command of the line; the test runs only lines that start with it")
		return
	}
	for _, s := range stages[1:] {
		for _, w := range s {
			if w == "portolan" {
				c.err = errors.New("portolan twice in one pipeline")
				return
			}
		}
	}
	if len(c.words) > 0 && (c.words[0] == "probe" || c.words[0] == "reflect") {
		c.err = fmt.Errorf("%s needs the network or runs until stopped", c.words[0])
		c.words = nil
		return
	}
	if stdout != "" && len(stages) > 1 {
		c.err = errors.New("> FILE after a pipeline")
		return
	}
	c.after, c.stdout = stages[1:], stdout
}

// shellSplit splits a command line into pipeline stages of words, with
// sh's quoting; stdout is the file of a final "> FILE". Expansions, globs,
// lists and other redirections are errors: the test would not run what the
// reader runs.
func shellSplit(s string) (stages [][]string, stdout string, err error) {
	var (
		words []string
		word  strings.Builder
		inW   bool
		redir bool
	)
	end := func() {
		if !inW {
			return
		}
		if redir && stdout == "" {
			stdout = word.String()
		} else {
			words = append(words, word.String())
		}
		word.Reset()
		inW = false
	}
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == ' ' || r == '\t':
			end()
		case r == '#' && !inW:
			i = len(rs)
		case r == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, "", errors.New("unterminated '")
			}
			word.WriteString(string(rs[i+1 : j]))
			inW, i = true, j
		case r == '"':
			inW = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				switch rs[j] {
				case '$', '`':
					return nil, "", fmt.Errorf("shell expansion %q", string(rs[j:min(j+12, len(rs))]))
				case '\\':
					if j+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[j+1]) {
						j++
					}
				}
				word.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, "", errors.New(`unterminated "`)
			}
			i = j
		case r == '\\':
			if i+1 < len(rs) {
				i++
				word.WriteRune(rs[i])
				inW = true
			}
		case r == '|':
			if i+1 < len(rs) && rs[i+1] == '|' {
				return nil, "", errors.New("|| list")
			}
			end()
			if redir || len(words) == 0 {
				return nil, "", errors.New("empty pipeline stage")
			}
			stages, words = append(stages, words), nil
		case r == '>':
			if inW || redir || (i+1 < len(rs) && rs[i+1] == '>') {
				return nil, "", errors.New("a redirection other than > FILE")
			}
			redir = true
		case strings.ContainsRune("$`;&<()*?[]{}~", r) && !(r == '~' && inW) && !((r == '{' || r == '}') && inW):
			return nil, "", fmt.Errorf("shell syntax %q", string(r))
		default:
			word.WriteRune(r)
			inW = true
		}
	}
	end()
	if redir && stdout == "" {
		return nil, "", errors.New("> without a file")
	}
	if len(words) == 0 {
		return nil, "", errors.New("empty pipeline stage")
	}
	return append(stages, words), stdout, nil
}

// sandboxOutputs points -o FILE, --output-file FILE and > FILE into dir,
// keeping the path under it, and creates the directories.
func (c *readmeCmd) sandboxOutputs(dir string) ([]string, string, error) {
	into := func(p string) (string, error) {
		if p == "-" {
			return p, nil
		}
		q := filepath.Join(dir, filepath.Clean("/"+p))
		return q, os.MkdirAll(filepath.Dir(q), 0o755)
	}
	args := append([]string(nil), c.words...)
	for i := 0; i < len(args); i++ {
		a := args[i]
		var err error
		switch {
		case (a == "-o" || a == "--output-file") && i+1 < len(args):
			i++
			args[i], err = into(args[i])
		case strings.HasPrefix(a, "-o="), strings.HasPrefix(a, "--output-file="):
			k, v, _ := strings.Cut(a, "=")
			v, err = into(v)
			args[i] = k + "=" + v
		case strings.HasPrefix(a, "-o") && len(a) > 2 && !strings.HasPrefix(a, "--"):
			var v string
			v, err = into(a[2:])
			args[i] = "-o" + v
		}
		if err != nil {
			return nil, "", err
		}
	}
	stdout := c.stdout
	if stdout != "" {
		var err error
		if stdout, err = into(stdout); err != nil {
			return nil, "", err
		}
	}
	return args, stdout, nil
}

// TestREADMEParse: how the README runner reads code blocks, markers and
// command lines.
func TestREADMEParse(t *testing.T) {
	src := "# T\n\n```sh\n" +
		"portolan show starleaf --param company=acme \\\n  --output json | jq -r '.[] | .id'\n" + // 4
		"go run ./cmd/portolan rules tw-solutions -o /etc/x.nft   # a comment\n" + // 6
		"nft -f /etc/x.nft\n" +
		"make test\n" +
		"portolan probe starleaf --token \"$TOKEN\"\n" + // 9
		"iptables-save | portolan audit x --ruleset -\n" + // 10
		"$ portolan schema > schema.json\n" + // 11
		"```\n\n" +
		"<!-- readme-test: skip (needs a reflector) -->\n" + // 14
		"```sh\n" +
		"portolan probe tw-solutions --reflector r\n" + // 16
		"*/5 * * * * root portolan sync starleaf\n" + // 17
		"```\n\n```\n$ portolan list\n```\n" +
		"```sh\nportolan probe pexip\n```\n" // 24
	cmds, err := readmeCommands(src)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		line   int
		words  string
		after  string
		stdout string
		skip   string
		err    string
	}
	wants := []want{
		{4, "show starleaf --param company=acme --output json", "jq -r .[] | .id", "", "", ""},
		{6, "rules tw-solutions -o /etc/x.nft", "", "", "", ""},
		{9, "", "", "", "", "shell expansion"},
		{10, "", "", "", "", "not the first command"},
		{11, "schema", "", "schema.json", "", ""},
		{16, "", "", "", "needs a reflector", ""},
		{17, "", "", "", "needs a reflector", ""},
		{24, "", "", "", "", "probe needs the network"},
	}
	if len(cmds) != len(wants) {
		for _, c := range cmds {
			t.Logf("line %d: %q", c.line, c.text)
		}
		t.Fatalf("%d commands, want %d", len(cmds), len(wants))
	}
	for i, w := range wants {
		c := cmds[i]
		var after []string
		for _, s := range c.after {
			after = append(after, strings.Join(s, " "))
		}
		got := want{c.line, strings.Join(c.words, " "), strings.Join(after, " | "), c.stdout, c.skip, ""}
		if c.err != nil {
			got.err = c.err.Error()
		}
		if got.line != w.line || got.words != w.words || got.after != w.after || got.stdout != w.stdout || got.skip != w.skip || !strings.Contains(got.err, w.err) || (w.err == "") != (got.err == "") {
			t.Errorf("command %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	dir := t.TempDir()
	args, _, err := cmds[1].sandboxOutputs(dir)
	if err != nil || args[len(args)-1] != filepath.Join(dir, "etc", "x.nft") {
		t.Errorf("sandboxed -o: %q, %v", args, err)
	}
	for _, bad := range []string{
		"<!-- readme-test: skip -->\n```sh\nportolan list\n```\n",
		"<!-- readme-test: skip (x) -->\ntext\n```sh\nportolan list\n```\n",
		"```sh\nportolan list\n```\n<!-- readme-test: skip (x) -->\n",
	} {
		if _, err := readmeCommands(bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

// TestREADME runs the README's commands. It needs root for a network
// namespace of its own (nothing it runs reaches the network).
func TestREADME(t *testing.T) {
	root := testenv.RepoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := readmeCommands(string(src))
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("PORTOLAN_README_NETNS") == "" {
		readmeOuter(t)
		return
	}
	stopDNS := readmeDNS(t)
	defer stopDNS()
	if err := os.Chdir(root); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ran, skipped := 0, map[int]string{}
	var skippedCmds int
	for _, c := range cmds {
		if c.skip != "" {
			skipped[c.block] = c.skip
			skippedCmds++
			continue
		}
		name := fmt.Sprintf("README.md:%d", c.line)
		if c.err != nil {
			t.Errorf("%s: %s\n  cannot run as written: %v; write it so that it runs, or mark its block (line %d) with <!-- readme-test: skip (reason) -->", name, c.text, c.err, c.block)
			continue
		}
		ran++
		args, stdoutFile, err := c.sandboxOutputs(out)
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := portolan(args...)
		if code != 0 {
			t.Errorf("%s: %s\n  exit %d; stderr:\n%s", name, c.text, code, stderr)
			continue
		}
		if stdoutFile != "" {
			if err := os.WriteFile(stdoutFile, []byte(stdout), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		in := []byte(stdout)
		for _, stage := range c.after {
			if stage[0] != "jq" {
				t.Logf("%s: not run after the pipe: %s", name, strings.Join(stage, " "))
				break
			}
			jq := exec.Command(stage[0], stage[1:]...)
			jq.Stdin = bytes.NewReader(in)
			var jqErr bytes.Buffer
			jq.Stderr = &jqErr
			if in, err = jq.Output(); err != nil {
				t.Errorf("%s: %s\n  %s: %v: %s", name, c.text, strings.Join(stage, " "), err, jqErr.String())
				break
			}
		}
	}
	var list []string
	for _, line := range slices.Sorted(maps.Keys(skipped)) {
		list = append(list, fmt.Sprintf("line %d (%s)", line, skipped[line]))
	}
	t.Logf("README: %d commands run; %d skipped in %d marked blocks: %s", ran, skippedCmds, len(skipped), strings.Join(list, "; "))
	if ran == 0 {
		t.Error("no README command ran")
	}
}

// readmeOuter runs TestREADME again inside new network and mount
// namespaces.
func readmeOuter(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "the README's commands run in a network namespace of their own: run as root")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		testenv.SkipOrFail(t, "unshare (util-linux) is needed: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, "--net", "--mount", "--propagation", "private", "--",
		self, "-test.run=^TestREADME$", "-test.count=1", "-test.v", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), "PORTOLAN_README_NETNS=1")
	out, err := cmd.CombinedOutput()
	// The inner run's report, without go test's own lines.
	var report []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "=== RUN") || l == "PASS" || l == "FAIL" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "ok ") {
			continue
		}
		report = append(report, l)
	}
	t.Log("\n" + strings.Join(report, "\n"))
	if err != nil {
		t.Errorf("README commands failed (%v); see above", err)
	}
}

// readmeDNS brings up loopback in this network namespace, serves DNS on
// 127.0.0.1:53 answering every name with a documentation address of each
// family (203.0.113.0/24, 2001:db8:53::/64) and makes /etc/resolv.conf,
// in this mount namespace only, point at it.
func readmeDNS(t *testing.T) func() {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			h := fnv.New32a()
			h.Write([]byte(strings.ToLower(qq.Name)))
			x := h.Sum32()
			hdr := dns.RR_Header{Name: qq.Name, Class: dns.ClassINET, Ttl: 300, Rrtype: qq.Qtype}
			switch qq.Qtype {
			case dns.TypeA:
				a := netip.AddrFrom4([4]byte{203, 0, 113, byte(x%254) + 1})
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
			case dns.TypeAAAA:
				b := netip.MustParseAddr("2001:db8:53::").As16()
				b[14], b[15] = byte(x>>8), byte(x)|1
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: netip.AddrFrom16(b).AsSlice()})
			}
		}
		w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Listener: ln, Handler: handler}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(conf, "/etc/resolv.conf", "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mount /etc/resolv.conf: %v", err)
	}
	return func() {
		udp.Shutdown()
		tcp.Shutdown()
		syscall.Unmount("/etc/resolv.conf", 0)
	}
}
