package pfxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Node is one element of config.xml: its name, attributes, text and
// children, and the line it starts on.
type Node struct {
	Name     string
	Attr     map[string]string
	Text     string
	Line     int
	Children []*Node
}

// Child returns the first child called name, or nil.
func (n *Node) Child(name string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// All returns the children called name.
func (n *Node) All(name string) []*Node {
	if n == nil {
		return nil
	}
	var out []*Node
	for _, c := range n.Children {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// Get returns the trimmed text of the child called name, "" when absent.
func (n *Node) Get(name string) string {
	if c := n.Child(name); c != nil {
		return strings.TrimSpace(c.Text)
	}
	return ""
}

// Has reports whether the child called name is present (a flag such as
// <disabled/> or <quick>yes</quick>).
func (n *Node) Has(name string) bool { return n.Child(name) != nil }

// Path follows names from n; nil when one is missing.
func (n *Node) Path(names ...string) *Node {
	for _, s := range names {
		n = n.Child(s)
	}
	return n
}

// Limits of the parser: config.xml nests a dozen levels; 10k rules and
// 10k aliases, far beyond a real box, are 400k elements read in about
// 120 MB; a million elements is the most a file may hold.
const (
	MaxDepth = 64
	MaxNodes = 1_000_000
	MaxText  = 1 << 20
)

// Parse reads an XML document into its tree; errors name the file and
// line.
func Parse(name string, data []byte) (*Node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	var stack []*Node
	var root *Node
	nodes := 0
	line := func() int { l, _ := d.InputPos(); return l }
	for {
		start := line()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("%s: line %d: %s", name, se.Line, se.Msg)
			}
			return nil, fmt.Errorf("%s: line %d: %v", name, line(), err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("%s: line %d: a second root element <%s>", name, line(), t.Name.Local)
			}
			if len(stack) >= MaxDepth {
				return nil, fmt.Errorf("%s: line %d: elements nested deeper than %d", name, line(), MaxDepth)
			}
			if nodes++; nodes > MaxNodes {
				return nil, fmt.Errorf("%s: line %d: more than %d elements", name, line(), MaxNodes)
			}
			// The decoder stood just before the tag's "<" (the white
			// space before it is a token of its own).
			n := &Node{Name: t.Name.Local, Line: start}
			for _, a := range t.Attr {
				if n.Attr == nil {
					n.Attr = map[string]string{}
				}
				n.Attr[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if n := stack[len(stack)-1]; len(n.Children) > 0 && strings.TrimSpace(n.Text) == "" {
				n.Text = "" // the indentation before its first child
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				n := stack[len(stack)-1]
				if len(n.Children) > 0 && len(bytes.TrimSpace(t)) == 0 {
					continue // indentation between elements, not a value
				}
				if len(n.Text)+len(t) > MaxText {
					return nil, fmt.Errorf("%s: line %d: <%s> holds more than %d bytes of text", name, line(), n.Name, MaxText)
				}
				n.Text += string(t)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%s: line %d: no root element", name, line())
	}
	return root, nil
}
