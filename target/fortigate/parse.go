package fortigate

import (
	"errors"
	"fmt"
	"strings"
)

// Limits of what the parser takes: a configuration beyond them is refused
// with an error, not read halfway.
const (
	MaxLines = 4 << 20 // lines of input
	MaxDepth = 16      // nesting of config blocks
	MaxWords = 4096    // words of one line
	// MaxQuotedLines is how many lines one quoted value may run over.
	MaxQuotedLines = 10000
)

var errUnclosed = errors.New("a quoted string is not closed")

// Node is one "config" block of a FortiOS configuration: its settings
// (set lines directly inside it, as in config system settings), its
// entries (edit … next) in order, and the blocks nested directly in it.
type Node struct {
	Path    string // "firewall policy"
	Line    int
	Sets    map[string]*Set
	Entries []*Entry
	Sub     []*Node
	byName  map[string]*Entry
}

// Entry is one "edit NAME … next" of a table.
type Entry struct {
	Name string
	Line int
	Sets map[string]*Set
	Sub  []*Node
}

// Set is one "set KEY VALUE…" line.
type Set struct {
	Line   int
	Values []string
}

// Get returns the values of key, or nil.
func (e *Entry) Get(key string) []string {
	if s := e.Sets[key]; s != nil {
		return s.Values
	}
	return nil
}

// One returns the first value of key, or "".
func (e *Entry) One(key string) string {
	if v := e.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Child returns the block of path nested in the entry, or nil.
func (e *Entry) Child(path string) *Node {
	for _, n := range e.Sub {
		if n.Path == path {
			return n
		}
	}
	return nil
}

// Tree is a parsed configuration: its top-level blocks in order.
type Tree struct {
	Nodes []*Node
	// Backup is true when the input starts with #config-version= (a
	// configuration file the FortiGate wrote), false for a CLI script.
	Backup bool
	// Skipped are the commands read past (delete, move, purge…), by line.
	Skipped []string
}

// quoteState scans s from quote state q (0 outside quotes, else the open
// quote character) and returns the state at its end. A line that starts
// inside a quote (a continuation) starts with q set.
func quoteState(s string, q byte) byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
		case q == 0 && (c == '"' || c == '\'') && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			q = c // a quote opens only at the start of a word, as in words
		case q != 0 && c == q:
			q = 0
		}
	}
	return q
}

// words splits one line into words: double-quoted strings may hold
// spaces and backslash escapes (\" and \\), single quotes are taken as
// FortiOS takes them too; unquoted words end at white space.
func words(line string, n int) ([]string, error) {
	var out []string
	i := 0
	for i < len(line) {
		c := line[i]
		if c == ' ' || c == '\t' || c == '\r' {
			i++
			continue
		}
		if len(out) >= MaxWords {
			return nil, fmt.Errorf("line %d: more than %d words", n, MaxWords)
		}
		var b strings.Builder
		if c == '"' || c == '\'' {
			quote := c
			i++
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '\\' && i+1 < len(line) {
					b.WriteByte(line[i+1])
					i += 2
					continue
				}
				if c == quote {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, errUnclosed
			}
			out = append(out, b.String())
			continue
		}
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' {
			if line[i] == '\\' && i+1 < len(line) {
				b.WriteByte(line[i+1])
				i += 2
				continue
			}
			b.WriteByte(line[i])
			i++
		}
		out = append(out, b.String())
	}
	return out, nil
}

// Parse reads a FortiOS configuration (a backup or a CLI script) into its
// tree of config blocks; name is the file name errors give.
func Parse(name string, data []byte) (*Tree, error) {
	t := &Tree{Backup: strings.HasPrefix(string(data), "#config-version=")}
	// The stack of open blocks: a Node, and, inside a table, the open Entry.
	type frame struct {
		node  *Node
		entry *Entry
	}
	var stack []*frame
	lines := strings.Split(string(data), "\n")
	if len(lines) > MaxLines {
		return nil, fmt.Errorf("%s: %d lines, more than %d", name, len(lines), MaxLines)
	}
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// A quoted value may run over several lines (certificates,
		// replacement messages in a backup): the line goes on until the
		// quote closes, within MaxQuotedLines.
		if q := quoteState(line, 0); q != 0 {
			var b strings.Builder
			b.WriteString(line)
			j := 1
			for ; q != 0 && j <= MaxQuotedLines && i+j < len(lines); j++ {
				next := strings.TrimRight(lines[i+j], "\r")
				b.WriteString("\n" + next)
				q = quoteState(next, q)
			}
			if q != 0 {
				return nil, fmt.Errorf("%s: line %d: a quoted string is not closed", name, n)
			}
			line = b.String()
			i += j - 1
		}
		w, err := words(line, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if len(w) == 0 {
			continue
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch w[0] {
		case "config":
			if len(w) < 2 {
				return nil, fmt.Errorf("%s: line %d: config without a path", name, n)
			}
			if len(stack) >= MaxDepth {
				return nil, fmt.Errorf("%s: line %d: config blocks nested deeper than %d", name, n, MaxDepth)
			}
			node := &Node{Path: strings.Join(w[1:], " "), Line: n, Sets: map[string]*Set{}}
			switch {
			case top == nil:
				t.Nodes = append(t.Nodes, node)
			case top.entry != nil:
				top.entry.Sub = append(top.entry.Sub, node)
			default:
				top.node.Sub = append(top.node.Sub, node)
			}
			stack = append(stack, &frame{node: node})
		case "edit":
			if top == nil {
				return nil, fmt.Errorf("%s: line %d: edit outside a config block", name, n)
			}
			if top.entry != nil {
				return nil, fmt.Errorf("%s: line %d: edit %q inside edit %q (next missing at the end of it)", name, n, strings.Join(w[1:], " "), top.entry.Name)
			}
			if len(w) != 2 {
				return nil, fmt.Errorf("%s: line %d: edit takes one name", name, n)
			}
			// Editing an entry again changes the one there.
			if top.node.byName == nil {
				top.node.byName = map[string]*Entry{}
			}
			e := top.node.byName[w[1]]
			if e == nil {
				e = &Entry{Name: w[1], Line: n, Sets: map[string]*Set{}}
				top.node.byName[e.Name] = e
				top.node.Entries = append(top.node.Entries, e)
			}
			top.entry = e
		case "next":
			if top == nil || top.entry == nil {
				return nil, fmt.Errorf("%s: line %d: next without edit", name, n)
			}
			top.entry = nil
		case "end":
			if top == nil {
				return nil, fmt.Errorf("%s: line %d: end without config", name, n)
			}
			if top.entry != nil {
				return nil, fmt.Errorf("%s: line %d: end inside edit %q (next missing)", name, n, top.entry.Name)
			}
			stack = stack[:len(stack)-1]
		case "set", "append", "unset", "select", "unselect":
			if top == nil {
				return nil, fmt.Errorf("%s: line %d: %s outside a config block", name, n, w[0])
			}
			if len(w) < 2 {
				return nil, fmt.Errorf("%s: line %d: %s without a key", name, n, w[0])
			}
			sets := top.node.Sets
			if top.entry != nil {
				sets = top.entry.Sets
			}
			key := w[1]
			switch w[0] {
			case "set", "select":
				sets[key] = &Set{Line: n, Values: w[2:]}
			case "append":
				if old := sets[key]; old != nil {
					old.Values = append(old.Values, w[2:]...)
					old.Line = n
				} else {
					sets[key] = &Set{Line: n, Values: w[2:]}
				}
			case "unset":
				delete(sets, key)
			case "unselect":
				if old := sets[key]; old != nil {
					var keep []string
					for _, v := range old.Values {
						drop := false
						for _, x := range w[2:] {
							drop = drop || x == v
						}
						if !drop {
							keep = append(keep, v)
						}
					}
					old.Values = keep
				}
			}
		case "delete":
			if top == nil || top.entry != nil || len(w) != 2 {
				return nil, fmt.Errorf("%s: line %d: delete takes one entry name, inside a config block", name, n)
			}
			if top.node.byName[w[1]] != nil {
				delete(top.node.byName, w[1])
				es := top.node.Entries[:0]
				for _, e := range top.node.Entries {
					if e.Name != w[1] {
						es = append(es, e)
					}
				}
				top.node.Entries = es
			}
		default:
			// move, rename, purge, show, get, execute, abort…: not
			// configuration; said in the notes.
			t.Skipped = append(t.Skipped, fmt.Sprintf("line %d: %s", n, w[0]))
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%s: line %d: config %q is not closed (end missing)", name, stack[0].node.Line, stack[0].node.Path)
	}
	return t, nil
}

// Find returns the top-level blocks of path, in order (a path may come
// back several times in a script).
func (t *Tree) Find(path string) []*Node {
	var out []*Node
	for _, n := range t.Nodes {
		if n.Path == path {
			out = append(out, n)
		}
	}
	return out
}
