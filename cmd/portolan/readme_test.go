package main

// The README's commands are run as written, so that the README cannot go
// stale: every command of a sh/shell/bash code block that starts with
// "portolan" or "go run ./cmd/portolan" runs through run(), in network and
// mount namespaces of their own whose only DNS server is the test's,
// answering every name with documentation addresses; nothing leaves the
// machine. Pipelines into jq, nft -f -, iptables-restore and
// ip6tables-restore run them (the namespace is private, so loading a
// ruleset there is harmless) and each must exit 0; "nft -f FILE" after a
// "portolan rules -o FILE" loads that file. Other lines that are not
// portolan's (go install, make) are not run. The command of a crontab line
// ("*/5 * * * * root portolan sync …") runs as cron would run it. -o FILE, > FILE and
// --token-file FILE are files of the test's temporary directory, never
// where the README says.
//
// portolan probe must exit 0 or 1 (2 is a usage error: the README is
// wrong) and its output must have a row for every service and every check
// the command asks for (--check, or all), whether or not it could run.
//
// A block that cannot run is marked on the line before it:
//
//	<!-- readme-test: skip (needs a reflector) -->
//
// and counted and listed as skipped. A block whose portolan command runs
// until stopped (portolan reflect) is marked
//
//	<!-- readme-test: background -->
//
// its other lines run through sh in the temporary directory (and must exit
// 0), then its portolan command is started from a built binary in a network
// namespace of its own (a reflector runs outside the network under test,
// and it serves port 53, which the test's DNS holds), linked to the test's
// by a veth pair; the test waits until it says it listens and keeps it
// running until the end of the README section (<!-- end: NAME -->). While
// it runs, the addresses the test's DNS answers for a probe's --reflector
// NAME are put on its side of the pair, so that the probe reaches it.
//
// A probe must also expect (as it says on stderr) to finish within
// readmeMaxProbe: it is stopped as soon as it says otherwise.
// PORTOLAN_README_SHOW=1 logs every probe's output.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/report"
)

// readmeCmd is one command of the README.
type readmeCmd struct {
	line   int    // line of README.md where it starts
	text   string // as written, continuations joined
	skip   string // the block's skip reason, "" to run
	block  int    // line of the block's opening fence
	kind   string // "portolan", "sh" (a background block's other lines) or "nft" (nft -f FILE)
	bg     bool   // a background block's portolan command: started, kept until line until
	until  int    // line of the end of the README section a background command lasts to
	words  []string
	after  [][]string // pipeline stages after portolan's
	stdout string     // > FILE
	err    error      // why it cannot run as written
}

var (
	readmeMarker  = regexp.MustCompile(`^<!--\s*readme-test:\s*(.*?)\s*-->\s*$`)
	readmeSkip    = regexp.MustCompile(`^skip \((.+)\)$`)
	readmeMention = regexp.MustCompile(`(^|[\s|;&(])(portolan|go run \./cmd/portolan)(\s|$)`)
	readmeNftFile = regexp.MustCompile(`^nft (-c )?-f [^-\s]\S*$`)
	readmeEnd     = regexp.MustCompile(`^<!--\s*end:`)
	// A crontab line (/etc/crontab's, with a user, or a user's crontab's):
	// cron runs the command through sh, so the test runs the command.
	readmeCron = regexp.MustCompile(`^(?:[0-9*/,\-]+\s+){5}(?:\S+\s+)?((?:portolan|go run \./cmd/portolan)\s.*)$`)
)

// readmeAfter are the commands that may follow portolan in a pipeline;
// they run for real in the test's namespace.
var readmeAfter = map[string]bool{"jq": true, "nft": true, "iptables-restore": true, "ip6tables-restore": true}

// readmeCommands returns the portolan commands of the README's shell code
// blocks, with the nft -f FILE lines and the other lines of background
// blocks.
func readmeCommands(src string) ([]readmeCmd, error) {
	var (
		cmds    []readmeCmd
		inBlock bool
		shell   bool
		skip    string
		bg      bool
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
					skip, bg = "", false
				}
				marked = 0
				continue
			}
			inBlock, skip, bg = false, "", false
			continue
		}
		if !inBlock {
			if m := readmeMarker.FindStringSubmatch(trimmed); m != nil {
				if marked != 0 {
					return nil, fmt.Errorf("README.md:%d: marker without a code block after it", marked)
				}
				if s := readmeSkip.FindStringSubmatch(m[1]); s != nil {
					skip = s[1]
				} else if m[1] == "background" {
					bg = true
				} else {
					return nil, fmt.Errorf("README.md:%d: marker %q: write <!-- readme-test: skip (reason) --> or <!-- readme-test: background -->", n, trimmed)
				}
				marked = n
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
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		c := readmeCmd{line: start, text: text, skip: skip, block: block, kind: "portolan"}
		switch {
		case readmeMention.MatchString(text):
			c.bg = bg
		case bg:
			c.kind = "sh"
		case readmeNftFile.MatchString(strings.Join(strings.Fields(text), " ")):
			c.kind = "nft"
		default:
			continue
		}
		if c.bg {
			c.until = len(lines) + 1
			for j := n; j < len(lines); j++ {
				if readmeEnd.MatchString(strings.TrimSpace(lines[j])) {
					c.until = j + 1
					break
				}
			}
		}
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
	if c.kind == "sh" {
		return
	}
	text := c.text
	if m := readmeCron.FindStringSubmatch(text); m != nil {
		text = m[1]
	}
	stages, stdout, err := shellSplit(text)
	if err != nil {
		c.err = err
		return
	}
	first := stages[0]
	switch {
	case c.kind == "nft":
		c.words = first
		return
	case len(first) > 0 && first[0] == "portolan":
		c.words = first[1:]
	case len(first) > 2 && first[0] == "go" && first[1] == "run" && first[2] == "./cmd/portolan":
		c.words = first[3:]
	default:
		c.err = errors.New("portolan is not the first command of the line; the test runs only lines that start with it")
		return
	}
	for _, s := range stages[1:] {
		if !readmeAfter[s[0]] {
			c.err = fmt.Errorf("%s after the pipe: the test runs only %s there", s[0], strings.Join(slices.Sorted(maps.Keys(readmeAfter)), ", "))
			return
		}
		if s[0] == "nft" && !slices.Contains(s, "-") {
			c.err = errors.New("nft after the pipe without -f -")
			return
		}
		for _, w := range s {
			if w == "portolan" {
				c.err = errors.New("portolan twice in one pipeline")
				return
			}
		}
	}
	if len(c.words) > 0 && c.words[0] == "reflect" && !c.bg {
		c.err = errors.New("reflect runs until stopped: mark its block <!-- readme-test: background -->")
		return
	}
	if c.bg && (len(c.words) == 0 || c.words[0] != "reflect") {
		c.err = errors.New("a background block's portolan command must be one that runs until stopped (reflect)")
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

// sandboxOutputs points -o FILE, --output-file FILE, --token-file FILE,
// > FILE and nft's -f FILE into dir, keeping the path under it, and
// creates the directories.
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
		case (a == "-o" || a == "--output-file" || a == "--token-file" || c.kind == "nft" && a == "-f") && i+1 < len(args):
			i++
			args[i], err = into(args[i])
		case strings.HasPrefix(a, "-o="), strings.HasPrefix(a, "--output-file="), strings.HasPrefix(a, "--token-file="):
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
		"nft -f /etc/x.nft\n" + // 7
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
		"```sh\nportolan probe pexip\n```\n" + // 24
		"```sh\n" +
		"portolan rules tw-solutions --target iptables | iptables-restore --noflush\n" + // 27
		"portolan rules tw-solutions | nft -c -f -\n" + // 28
		"portolan rules tw-solutions | sort\n" + // 29
		"portolan reflect --token-file t\n" + // 30
		"```\n" +
		"<!-- readme-test: background -->\n" + // 32
		"```sh\n" +
		"(umask 077; openssl rand -hex 16 > t)\n" + // 34
		"portolan reflect --token-file t --udp-ports 5060\n" + // 35
		"```\n" +
		"```sh\nportolan probe tw-solutions --reflector r --token-file t\n```\n" + // 38
		"<!-- end: probe -->\n" + // 40
		"```sh\n*/5 * * * * root portolan sync starleaf --quiet\n0 3 * * 1 portolan version\n```\n" // 42, 43
	cmds, err := readmeCommands(src)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		line   int
		kind   string
		words  string
		after  string
		stdout string
		skip   string
		until  int
		err    string
	}
	wants := []want{
		{4, "portolan", "show starleaf --param company=acme --output json", "jq -r .[] | .id", "", "", 0, ""},
		{6, "portolan", "rules tw-solutions -o /etc/x.nft", "", "", "", 0, ""},
		{7, "nft", "nft -f /etc/x.nft", "", "", "", 0, ""},
		{9, "portolan", "", "", "", "", 0, "shell expansion"},
		{10, "portolan", "", "", "", "", 0, "not the first command"},
		{11, "portolan", "schema", "", "schema.json", "", 0, ""},
		{16, "portolan", "", "", "", "needs a reflector", 0, ""},
		{17, "portolan", "", "", "", "needs a reflector", 0, ""},
		{24, "portolan", "probe pexip", "", "", "", 0, ""},
		{27, "portolan", "rules tw-solutions --target iptables", "iptables-restore --noflush", "", "", 0, ""},
		{28, "portolan", "rules tw-solutions", "nft -c -f -", "", "", 0, ""},
		{29, "portolan", "rules tw-solutions", "", "", "", 0, "sort after the pipe"},
		{30, "portolan", "reflect --token-file t", "", "", "", 0, "readme-test: background"},
		{34, "sh", "", "", "", "", 0, ""},
		{35, "portolan", "reflect --token-file t --udp-ports 5060", "", "", "", 40, ""},
		{38, "portolan", "probe tw-solutions --reflector r --token-file t", "", "", "", 0, ""},
		{42, "portolan", "sync starleaf --quiet", "", "", "", 0, ""},
		{43, "portolan", "version", "", "", "", 0, ""},
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
		got := want{c.line, c.kind, strings.Join(c.words, " "), strings.Join(after, " | "), c.stdout, c.skip, c.until, ""}
		if c.err != nil {
			got.err = c.err.Error()
		}
		if got.line != w.line || got.kind != w.kind || got.words != w.words || got.after != w.after || got.stdout != w.stdout || got.skip != w.skip || got.until != w.until || !strings.Contains(got.err, w.err) || (w.err == "") != (got.err == "") {
			t.Errorf("command %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	if c := cmds[14]; !c.bg || cmds[13].bg {
		t.Errorf("background: reflect %v, sh line %v", c.bg, cmds[13].bg)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		i    int
		want string
	}{{1, filepath.Join(dir, "etc", "x.nft")}, {2, filepath.Join(dir, "etc", "x.nft")}, {15, filepath.Join(dir, "t")}} {
		args, _, err := cmds[tc.i].sandboxOutputs(dir)
		if err != nil || args[len(args)-1] != tc.want {
			t.Errorf("sandboxed %s: %q, %v", cmds[tc.i].text, args, err)
		}
	}
	for _, bad := range []string{
		"<!-- readme-test: skip -->\n```sh\nportolan list\n```\n",
		"<!-- readme-test: skip (x) -->\ntext\n```sh\nportolan list\n```\n",
		"```sh\nportolan list\n```\n<!-- readme-test: skip (x) -->\n",
		"<!-- readme-test: keep -->\n```sh\nportolan list\n```\n",
		"<!-- readme-test: background -->\n<!-- readme-test: skip (x) -->\n```sh\nportolan list\n```\n",
	} {
		if _, err := readmeCommands(bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

// TestREADMEProbeRows: a probe's table must have a row for every service
// and every check asked for.
func TestREADMEProbeRows(t *testing.T) {
	table := "portolan probe a b — 2026-01-01T00:00:00Z, 0s\n\n" +
		"STATUS  CHECK  SERVICE  FLOW  TARGET  VIA  RESULT\n" +
		"ok      dns    a        f     x       -    ok\n" +
		"skip    tcp    a        -     -       -    not probed: why\n" +
		"FAIL    dns    b        f     x       -    does not resolve\n" +
		"\nFAILED: 1 required check failed\n"
	for _, tc := range []struct {
		args    []string
		missing string
	}{
		{[]string{"probe", "a", "--check", "dns,tcp"}, ""},
		{[]string{"probe", "a", "b", "--check", "dns"}, ""},
		{[]string{"probe", "a", "b", "--check", "dns,tcp"}, "b/tcp"},
		{[]string{"probe", "a"}, "a/tls"},
	} {
		err := readmeProbeRows(tc.args, table)
		if (tc.missing == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.missing) {
			t.Errorf("%q: %v, want missing %q", tc.args, err, tc.missing)
		}
	}
	if err := readmeProbeRows([]string{"probe", "a", "--check", "dns"}, "no table\n"); err == nil {
		t.Error("no error without a table")
	}
	if readmeTooLong("portolan probe: 78 units of work (ports, connections, trials); expected to take about 7s\n") ||
		!readmeTooLong("portolan probe: 50101 units of work (ports, connections, trials); expected to take about 8m26s\n") {
		t.Error("readmeTooLong")
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
	var bgs []*readmeBackground
	defer func() {
		for _, b := range bgs {
			b.stop(t)
		}
	}()
	for _, c := range cmds {
		for _, b := range bgs {
			if b.until < c.line {
				b.stop(t)
			}
		}
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
		if c.kind == "sh" {
			sh := exec.Command("sh", "-c", c.text)
			sh.Dir = out
			if b, err := sh.CombinedOutput(); err != nil {
				t.Errorf("%s: %s\n  sh: %v: %s", name, c.text, err, b)
			}
			continue
		}
		args, stdoutFile, err := c.sandboxOutputs(out)
		if err != nil {
			t.Fatal(err)
		}
		if c.kind == "nft" {
			if b, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				t.Errorf("%s: %s\n  %v: %s", name, c.text, err, b)
			}
			continue
		}
		if c.bg {
			b, err := readmeStart(t, root, out, c, args)
			if err != nil {
				t.Errorf("%s: %s\n  %v", name, c.text, err)
				continue
			}
			bgs = append(bgs, b)
			continue
		}
		isProbe := len(args) > 0 && args[0] == "probe"
		for _, b := range bgs {
			if isProbe && b.cmd != nil {
				if err := b.readmeReflectorRoute(args); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
		t0 := time.Now()
		var stdout, stderr string
		var code int
		if isProbe {
			stdout, stderr, code = readmeProbe(args)
		} else {
			stdout, stderr, code = portolan(args...)
		}
		took := time.Since(t0)
		if isProbe {
			t.Logf("%s: probe took %s, exit %d", name, took.Round(time.Millisecond), code)
			if readmeTooLong(stderr) {
				i := strings.Index(stderr, readmeLong)
				t.Errorf("%s: %s\n  stopped: a README probe must finish within %s (use --sample, --rate, --check), and this one said: %s", name, c.text, readmeMaxProbe, strings.SplitN(stderr[i:], "\n", 2)[0])
				continue
			}
			if code != 0 && code != 1 {
				t.Errorf("%s: %s\n  exit %d (0 or 1 expected: 2 is a usage error); stderr:\n%s", name, c.text, code, stderr)
				continue
			}
			if os.Getenv("PORTOLAN_README_SHOW") != "" {
				t.Logf("%s:\n%s%s", name, stdout, stderr)
			}
			if err := readmeProbeRows(args, stdout); err != nil {
				t.Errorf("%s: %s\n  %v\nstdout:\n%s\nstderr:\n%s", name, c.text, err, stdout, stderr)
			}
			continue
		}
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
			x := exec.Command(stage[0], stage[1:]...)
			x.Stdin = bytes.NewReader(in)
			var xErr bytes.Buffer
			x.Stderr = &xErr
			if in, err = x.Output(); err != nil {
				t.Errorf("%s: %s\n  %s: %v: %s", name, c.text, strings.Join(stage, " "), err, xErr.String())
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

// readmeLong is what probe says on stderr before a run it expects to
// take longer than a few seconds.
const readmeLong = "expected to take about"

// readmeMaxProbe is the longest a README probe may expect to take: the
// test runs it, and so does a reader trying the README out.
const readmeMaxProbe = 20 * time.Second

// readmeTooLong tells whether probe's stderr says it expects to take
// longer than readmeMaxProbe.
func readmeTooLong(stderr string) bool {
	i := strings.Index(stderr, readmeLong+" ")
	if i < 0 {
		return false
	}
	f := strings.Fields(stderr[i+len(readmeLong):])
	if len(f) == 0 {
		return false
	}
	d, err := time.ParseDuration(strings.TrimSuffix(f[0], ","))
	return err != nil || d > readmeMaxProbe
}

// readmeProbe runs a probe command in-process and interrupts it as soon
// as it says it expects to take longer than readmeMaxProbe, or after a
// minute.
func readmeProbe(args []string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	errw := &readmeWatch{cancel: cancel}
	code = runContext(ctx, args, &out, errw)
	return out.String(), errw.String(), code
}

// readmeWatch collects stderr and cancels when readmeLong appears.
type readmeWatch struct {
	mu     sync.Mutex
	b      strings.Builder
	cancel func()
}

func (w *readmeWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if readmeTooLong(w.b.String()) {
		w.cancel()
	}
	return len(p), nil
}

func (w *readmeWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// readmeProbeRows checks that the output of a probe command (the table on
// stdout, or the -o FILE it asks for) has a row for every service and
// every check the command asks for.
func readmeProbeRows(args []string, stdout string) error {
	cmd, rest, err := newRoot().Find(args)
	if err != nil {
		return err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	fl := cmd.Flags()
	list, _ := fl.GetStringSlice("check")
	checks, err := probe.ParseChecks(list)
	if err != nil {
		return err
	}
	services := fl.Args()
	format, _ := fl.GetString("output")
	if file, _ := fl.GetString("output-file"); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("-o %s: %v", file, err)
		}
		if format != report.JSON {
			if len(b) == 0 || !bytes.Contains(b, []byte("</html>")) && !bytes.Contains(b, []byte("STATUS")) {
				return fmt.Errorf("-o %s: empty or not a report: %.200q", file, b)
			}
			if format != report.Table {
				return nil
			}
		}
		stdout = string(b)
	}
	have := map[string]bool{}
	if format == report.JSON {
		var rep probe.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			return fmt.Errorf("not a JSON report: %v", err)
		}
		for _, r := range rep.Results {
			have[r.Service+" "+r.Check] = true
		}
	} else {
		lines := strings.Split(stdout, "\n")
		h := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "STATUS ") })
		if h < 0 {
			return errors.New("no table (no STATUS header)")
		}
		ci, si, fi := strings.Index(lines[h], " CHECK")+1, strings.Index(lines[h], " SERVICE")+1, strings.Index(lines[h], " FLOW")+1
		for _, l := range lines[h+1:] {
			if l == "" {
				break
			}
			if len(l) < fi {
				return fmt.Errorf("short row %q", l)
			}
			have[strings.TrimSpace(l[si:fi])+" "+strings.TrimSpace(l[ci:si])] = true
		}
	}
	var missing []string
	for _, s := range services {
		for _, c := range checks {
			if !have[s+" "+c] {
				missing = append(missing, s+"/"+c)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no row for %s: every check asked for gets a row", strings.Join(missing, ", "))
	}
	return nil
}

// readmeBackground is a README command that runs until stopped.
type readmeBackground struct {
	cmd    *exec.Cmd
	until  int
	name   string
	stderr *bytes.Buffer
	mu     *sync.Mutex
	done   chan struct{}
}

// readmeStart builds portolan, starts the command in dir and waits until
// it says it listens (all its shards, when it runs some).
func readmeStart(t *testing.T, root, dir string, c readmeCmd, args []string) (*readmeBackground, error) {
	bin := filepath.Join(dir, ".bin", "portolan")
	if _, err := os.Stat(bin); err != nil {
		t0 := time.Now()
		build := exec.Command("go", "build", "-o", bin, "./cmd/portolan")
		build.Dir = root
		if b, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build: %v: %s", err, b)
		}
		t.Logf("go build ./cmd/portolan took %s", time.Since(t0).Round(time.Millisecond))
	}
	t0 := time.Now()
	// Its own network namespace: a reflector runs outside the network
	// under test, and it serves port 53, which the test's DNS holds here.
	cmd := exec.Command("unshare", append([]string{"--net", "--", bin}, args...)...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // unshare execs portolan: it keeps this

	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &readmeBackground{cmd: cmd, until: c.until, name: fmt.Sprintf("README.md:%d", c.line),
		stderr: new(bytes.Buffer), mu: new(sync.Mutex), done: make(chan struct{})}
	up := make(chan struct{})
	go func() {
		defer close(b.done)
		sc := bufio.NewScanner(pipe)
		ready := false
		for sc.Scan() {
			l := sc.Text()
			b.mu.Lock()
			b.stderr.WriteString(l + "\n")
			b.mu.Unlock()
			if !ready && (strings.Contains(l, " shards up") || strings.Contains(l, ": listening on ") && !strings.Contains(l, " shard ")) {
				ready = true
				close(up)
			}
		}
	}()
	select {
	case <-up:
		t.Logf("%s: %s listening after %s", b.name, c.text, time.Since(t0).Round(time.Millisecond))
		// A veth pair to it: 192.0.2.1 and 2001:db8:ffff::1 on this side,
		// on-link default routes on its side.
		pid := strconv.Itoa(cmd.Process.Pid)
		if err := b.ip(
			[]string{"link", "add", readmeVethNear, "type", "veth", "peer", "name", readmeVethFar, "netns", pid},
			[]string{"addr", "add", "192.0.2.1/32", "dev", readmeVethNear},
			[]string{"-6", "addr", "add", "2001:db8:ffff::1/128", "dev", readmeVethNear, "nodad"},
			[]string{"link", "set", readmeVethNear, "up"},
			[]string{"@", "link", "set", "lo", "up"},
			[]string{"@", "link", "set", readmeVethFar, "up"},
			[]string{"@", "route", "add", "default", "dev", readmeVethFar},
			[]string{"@", "-6", "route", "add", "default", "dev", readmeVethFar},
		); err != nil {
			b.stop(t)
			return nil, err
		}
		return b, nil
	case <-b.done:
		cmd.Wait()
		return nil, fmt.Errorf("stopped while starting: %s", b.stderr)
	case <-time.After(30 * time.Second):
		b.stop(t)
		return nil, errors.New("not listening after 30 s")
	}
}

// stop ends a background command (SIGTERM, then SIGKILL after 10 s) and
// logs what it said.
func (b *readmeBackground) stop(t *testing.T) {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s: still running 10 s after SIGTERM", b.name)
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd.Wait()
	b.mu.Lock()
	t.Logf("%s: stopped; it said:\n%s", b.name, b.stderr)
	b.mu.Unlock()
	b.cmd = nil
}

// readmeReflectorRoute puts the addresses the test's DNS answers for a
// probe's --reflector NAME on the background command's side of the veth
// pair and routes them there, so that the probe reaches the reflector the
// README started. A --reflector address is left alone.
func (b *readmeBackground) readmeReflectorRoute(args []string) error {
	cmd, rest, err := newRoot().Find(args)
	if err != nil {
		return err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	refl, _ := cmd.Flags().GetString("reflector")
	host := refl
	if h, _, err := net.SplitHostPort(refl); err == nil {
		host = h
	}
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	v4, v6 := readmeAddrs(host + ".")
	return b.ip(
		[]string{"@", "addr", "replace", v4.String() + "/32", "dev", readmeVethFar},
		[]string{"@", "-6", "addr", "replace", v6.String() + "/128", "dev", readmeVethFar, "nodad"},
		[]string{"route", "replace", v4.String() + "/32", "dev", readmeVethNear},
		[]string{"-6", "route", "replace", v6.String() + "/128", "dev", readmeVethNear},
	)
}

// The veth pair between the test's namespace and a background command's.
const (
	readmeVethNear = "readme0"
	readmeVethFar  = "readme1"
)

// ip runs ip commands in order; one whose first argument is "@" runs in
// the background command's network namespace.
func (b *readmeBackground) ip(cmds ...[]string) error {
	for _, c := range cmds {
		if c[0] == "@" {
			c = append([]string{"nsenter", "--net=/proc/" + strconv.Itoa(b.cmd.Process.Pid) + "/ns/net", "ip"}, c[1:]...)
		} else {
			c = append([]string{"ip"}, c...)
		}
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return nil
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
			v4, v6 := readmeAddrs(qq.Name)
			hdr := dns.RR_Header{Name: qq.Name, Class: dns.ClassINET, Ttl: 300, Rrtype: qq.Qtype}
			switch qq.Qtype {
			case dns.TypeA:
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: v4.AsSlice()})
			case dns.TypeAAAA:
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: v6.AsSlice()})
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

// readmeAddrs returns the addresses the test's DNS answers for a name
// (fully qualified, with its final dot): one of 203.0.113.0/24 and one of
// 2001:db8:53::/64, chosen by a hash of the name.
func readmeAddrs(fqdn string) (v4, v6 netip.Addr) {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(fqdn)))
	x := h.Sum32()
	v4 = netip.AddrFrom4([4]byte{203, 0, 113, byte(x%254) + 1})
	b := netip.MustParseAddr("2001:db8:53::").As16()
	b[14], b[15] = byte(x>>8), byte(x)|1
	return v4, netip.AddrFrom16(b)
}
