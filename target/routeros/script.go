package routeros

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/internal/lazyre"
)

// Limits of what the reader takes: an export of a large router is a few
// MiB; these keep a hostile input from costing more than that.
const (
	// MaxLine bounds a logical line (continuations joined).
	MaxLine = 1 << 20
	// MaxCommands bounds the commands of one input.
	MaxCommands = 1 << 21
	// MaxNest bounds how deep [ … ] expressions nest.
	MaxNest = 16
)

// Error is input that is not a RouterOS export or script.
type Error = ruleset.LineError

// Arg is one argument of a command: key=value, or a bare word (Key ""),
// or a [ … ] expression (Expr set, Val its inside).
type Arg struct {
	Key, Val string
	Expr     bool
}

// Cmd is one command of an export or script: a menu path ("ip firewall
// filter"), a verb (add, set, remove…) and its arguments.
type Cmd struct {
	Line int    // the first line of the command
	Path string // menu path, words joined by one space
	Verb string
	Args []Arg
	Text string // the logical line as written (continuations joined)
}

// Get returns the value of key and whether the command has it.
func (c *Cmd) Get(key string) (string, bool) {
	for _, a := range c.Args {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// verbs are the commands of a menu that the reader distinguishes from
// menu names in a path.
var verbs = map[string]bool{
	"add": true, "set": true, "remove": true, "disable": true, "enable": true, "unset": true,
	"move": true, "comment": true, "print": true, "export": true, "edit": true, "find": true,
	"reset-counters": true, "reset-counters-all": true,
}

// Script is a parsed export or script: its commands, and the lines it
// skipped (scripting commands, blocks) for the notes.
type Script struct {
	Cmds    []Cmd
	Skipped []string
}

// ParseScript splits RouterOS export or script text into commands: "#"
// comment lines, "\" continuations, menu lines ("/ip firewall filter",
// or "/ip/firewall/filter"), commands in the current menu ("add …") or
// with their path ("/ip firewall filter add …"). Scripting commands
// (":if", ":do", "{ … }") are skipped and listed. file names errors.
func ParseScript(file string, data []byte) (*Script, error) {
	s := &Script{}
	var path string
	var logical []byte
	inCont := false
	start := 0
	process := func() error {
		text := strings.TrimSpace(string(logical))
		logical, inCont = logical[:0], false
		if text == "" {
			return nil
		}
		if len(s.Cmds) >= MaxCommands {
			return &Error{File: file, Line: start, Msg: fmt.Sprintf("more than %d commands", MaxCommands)}
		}
		if m := raiseRE.FindStringSubmatch(text); m != nil && m[1] == m[3] && m[2] == m[4] {
			// the writer's "at least": /ip firewall connection tracking
			// set PROP=N unless it is higher already
			s.Cmds = append(s.Cmds, Cmd{Line: start, Path: "ip firewall connection tracking", Verb: "raise", Args: []Arg{{Key: m[1], Val: m[2]}}, Text: text})
			return nil
		}
		c, newPath, err := command(text, path)
		if err != nil {
			return &Error{File: file, Line: start, Field: err.field, Msg: err.msg}
		}
		path = newPath
		if c == nil {
			if text[0] == ':' || text[0] == '{' || text[0] == '}' {
				s.Skipped = append(s.Skipped, fmt.Sprintf("line %d: %s", start, clip(text, 80)))
			}
			return nil
		}
		c.Line = start
		s.Cmds = append(s.Cmds, *c)
		return nil
	}
	line := 0
	rest := data
	for len(rest) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			l, rest = rest, nil
		}
		l = bytes.TrimLeft(bytes.TrimRight(l, "\r"), " \t")
		if !inCont {
			if len(l) == 0 || l[0] == '#' {
				continue
			}
			start = line
		}
		cont := false
		if n := trailingBackslashes(l); n%2 == 1 {
			l, cont = l[:len(l)-1], true
		}
		if len(logical)+len(l) > MaxLine {
			return nil, &Error{File: file, Line: start, Msg: fmt.Sprintf("a command longer than %d bytes", MaxLine)}
		}
		logical = append(logical, l...)
		inCont = true
		if cont {
			continue
		}
		if err := process(); err != nil {
			return nil, err
		}
	}
	if inCont {
		if err := process(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// raiseRE is the writer's conditional raise of a connection tracking
// timeout.
var raiseRE = lazyre.New(`^:if \(\[/ip firewall connection tracking get ([a-z-]+)\] < \[:totime "([0-9a-z:]+)"\]\) do=\{ */ip firewall connection tracking set ([a-z-]+)=([0-9a-z:]+) *\}$`)

func trailingBackslashes(l []byte) int {
	n := 0
	for i := len(l) - 1; i >= 0 && l[i] == '\\'; i-- {
		n++
	}
	return n
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

type lexErr struct{ field, msg string }

// command reads one logical line in menu path; it returns the command
// (nil for a menu line or a skipped one) and the menu after it.
func command(text, path string) (*Cmd, string, *lexErr) {
	if text[0] == ':' || text[0] == '{' || text[0] == '}' {
		// scripting: skipped, the menu stays
		return nil, path, nil
	}
	toks, err := tokens(text)
	if err != nil {
		return nil, path, err
	}
	if len(toks) == 0 {
		return nil, path, nil
	}
	i := 0
	if text[0] == '/' {
		// a path: words (or /-separated words) until a verb or argument
		var words []string
		for ; i < len(toks); i++ {
			t := toks[i]
			if t.Key != "" || t.Expr {
				break
			}
			done := false
			for _, w := range strings.Split(t.Val, "/") {
				if w == "" {
					continue
				}
				if verbs[w] {
					done = true
					toks[i].Val = w
					break
				}
				words = append(words, w)
			}
			if done {
				break
			}
		}
		path = strings.Join(words, " ")
		if i == len(toks) {
			return nil, path, nil
		}
	}
	verb := toks[i]
	if verb.Key != "" || verb.Expr {
		return nil, path, &lexErr{field: verb.Key, msg: "a command starts with a verb (add, set, remove…), not an argument"}
	}
	if path == "" {
		return nil, path, &lexErr{field: verb.Val, msg: "a command outside a menu (a menu line such as /ip firewall filter must come first)"}
	}
	return &Cmd{Path: path, Verb: verb.Val, Args: toks[i+1:], Text: text}, path, nil
}

// tokens splits a command line into arguments: key=value with the value
// bare, "quoted" (with RouterOS escapes) or a [ … ] expression; bare
// words; [ … ] expressions.
func tokens(s string) ([]Arg, *lexErr) {
	out := make([]Arg, 0, strings.Count(s, " ")+1)
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		var a Arg
		if s[i] == '[' {
			v, n, err := expr(s[i:])
			if err != nil {
				return nil, err
			}
			a = Arg{Val: v, Expr: true}
			i += n
			out = append(out, a)
			continue
		}
		// a word up to "=" or a space
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '=' && s[j] != '"' {
			j++
		}
		if j < len(s) && s[j] == '=' {
			a.Key = s[i:j]
			j++
			switch {
			case j < len(s) && s[j] == '"':
				v, n, err := quoted(s[j:])
				if err != nil {
					return nil, &lexErr{field: a.Key, msg: err.msg}
				}
				a.Val = v
				j += n
			case j < len(s) && s[j] == '[':
				v, n, err := expr(s[j:])
				if err != nil {
					return nil, &lexErr{field: a.Key, msg: err.msg}
				}
				a.Val, a.Expr = v, true
				j += n
			default:
				k := j
				for k < len(s) && s[k] != ' ' && s[k] != '\t' {
					k++
				}
				a.Val = s[j:k]
				j = k
			}
			if a.Key == "" {
				return nil, &lexErr{msg: "an argument without a name before '='"}
			}
		} else if j < len(s) && s[j] == '"' {
			if j != i {
				return nil, &lexErr{field: s[i:j], msg: "a quote inside a word"}
			}
			v, n, err := quoted(s[j:])
			if err != nil {
				return nil, err
			}
			a.Val = v
			j += n
		} else {
			a.Val = s[i:j]
		}
		if j < len(s) && s[j] != ' ' && s[j] != '\t' {
			return nil, &lexErr{field: a.Key, msg: fmt.Sprintf("unexpected %q after a value", s[j])}
		}
		out = append(out, a)
		i = j
	}
}

// quoted reads a "…" string at the start of s: its value with escapes
// undone, and the bytes it takes. RouterOS escapes: \" \\ \n \r \t \$ \?
// \_ (space) \a \b \f \v and \XY, two hex digits for a byte.
func quoted(s string) (string, int, *lexErr) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return "", 0, &lexErr{msg: "a quote is not closed"}
			}
			i++
			e := s[i]
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '_':
				b.WriteByte(' ')
			case 'a':
				b.WriteByte(7)
			case 'b':
				b.WriteByte(8)
			case 'f':
				b.WriteByte(12)
			case 'v':
				b.WriteByte(11)
			default:
				if i+1 < len(s) && isHex(e) && isHex(s[i+1]) {
					b.WriteByte(unhex(e)<<4 | unhex(s[i+1]))
					i++
					continue
				}
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, &lexErr{msg: "a quote is not closed"}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// expr reads a [ … ] expression at the start of s (brackets nest, quotes
// hold brackets): its inside, trimmed, and the bytes it takes.
func expr(s string) (string, int, *lexErr) {
	depth := 0
	inQ := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQ && c == '\\':
			i++
		case c == '"':
			inQ = !inQ
		case inQ:
		case c == '[':
			depth++
			if depth > MaxNest {
				return "", 0, &lexErr{msg: fmt.Sprintf("[ ] nested deeper than %d", MaxNest)}
			}
		case c == ']':
			depth--
			if depth == 0 {
				return strings.TrimSpace(s[1:i]), i + 1, nil
			}
		}
	}
	return "", 0, &lexErr{msg: "a [ is not closed"}
}

// Quote writes s as a RouterOS quoted string: ", \ and $ escaped,
// control characters and bytes beyond ASCII as \XY.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\' || c == '$' || c == '?':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
