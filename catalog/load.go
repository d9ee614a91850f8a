package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/portolan/portolan/internal/lazyre"
	"github.com/portolan/portolan/model"
)

// MaxErrors is how many errors of one profile Load reports.
const MaxErrors = 100

// MaxProfileSize bounds what Load reads: a profile is a few kilobytes.
const MaxProfileSize = 4 << 20

// Load parses and validates one profile. file names it in errors. Every
// problem found is returned, as Errors, each with its line and field.
func Load(file string, data []byte) (*model.Service, error) {
	if len(data) > MaxProfileSize {
		return nil, Errors{{File: file, Msg: fmt.Sprintf("profile is %d bytes, more than the %d a profile may have", len(data), MaxProfileSize)}}
	}
	root, err := parseNode(file, data)
	if err != nil {
		return nil, err
	}
	idx := newIndex(file, root)
	var errs Errors
	checkKeys(root, reflect.TypeOf(model.Service{}), "", idx, &errs)
	if len(errs) > 0 {
		return nil, capErrors(file, errs, 0)
	}
	var svc model.Service
	if err := root.Decode(&svc); err != nil {
		return nil, idx.decodeErrors(err)
	}
	svc.File = file
	errs = append(errs, validate(&svc, idx)...)
	if len(errs) > 0 {
		return nil, capErrors(file, errs, 0)
	}
	return &svc, nil
}

// parseNode reads exactly one YAML document whose root is a mapping.
func parseNode(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: file, Msg: "empty profile"}}
		}
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: file, Line: extra.Line, Col: extra.Column, Msg: "a profile holds one YAML document; remove the second"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, Errors{{File: file, Line: root.Line, Col: root.Column, Msg: "a profile is a mapping with service, hosts, flows…"}}
	}
	return root, nil
}

var yamlLineRE = lazyre.New(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a syntax error from the YAML parser into an Error.
func yamlError(file string, err error) error {
	return capErrors(file, yamlMessages(file, strings.Split(strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n"), "\n")), 0)
}

// yamlMessages turns the YAML parser's messages into Errors.
func yamlMessages(file string, msgs []string) Errors {
	var es Errors
	for _, msg := range msgs {
		msg = strings.TrimSpace(msg)
		if msg == "" {
			continue
		}
		e := &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[2]
		}
		es = append(es, e)
	}
	return es
}

// index maps field paths to where their values stand in the file. It is
// made when an error is first named: a valid profile (every embedded one,
// on every run) never needs it.
type index struct {
	file  string
	root  *yaml.Node
	pos   map[string][2]int // made by positions
	steps int               // positions looked at to name decode errors (a test counts them)
	// lists are the scalars checkKeys made lists of one (a StringList's
	// "tcp" for [tcp]): indexed as the scalars they were.
	lists map[*yaml.Node]bool
}

func newIndex(file string, root *yaml.Node) *index {
	return &index{file: file, root: root}
}

// positions returns the positions of the file's fields by path.
func (idx *index) positions() map[string][2]int {
	if idx.pos == nil {
		idx.pos = map[string][2]int{}
		idx.walk(idx.root, "")
	}
	return idx.pos
}

func (idx *index) walk(n *yaml.Node, path string) {
	idx.pos[path] = [2]int{n.Line, n.Column}
	switch {
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			idx.walk(n.Content[i+1], joinPath(path, n.Content[i].Value))
		}
	case n.Kind == yaml.SequenceNode && !idx.lists[n]:
		for i, c := range n.Content {
			idx.walk(c, elemPath(path, i))
		}
	}
}

// elemPath is the path of the i-th element of the list at path: path[i].
func elemPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// at returns an Error for the field at path, placed at the field or, when
// the field is absent, at the nearest enclosing one.
func (idx *index) at(path, format string, a ...any) *Error {
	e := &Error{File: idx.file, Field: path, Msg: fmt.Sprintf(format, a...)}
	for p := path; ; p = parentPath(p) {
		if lc, ok := idx.positions()[p]; ok {
			e.Line, e.Col = lc[0], lc[1]
			break
		}
		if p == "" {
			break
		}
	}
	return e
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// decodeErrors turns the decoder's type errors into Errors with fields:
// the first MaxErrors of them, then a count of the rest. It looks at each
// position of the file once, however many errors there are.
func (idx *index) decodeErrors(err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	more := 0
	if len(msgs) > MaxErrors {
		msgs, more = msgs[:MaxErrors], len(msgs)-MaxErrors
	}
	es := yamlMessages(idx.file, msgs)
	// The outermost field whose value starts on each line: the leftmost,
	// and of two at one column the deeper (a key's value, not the key).
	type at struct {
		path string
		col  int
	}
	var lines map[int]at
	for _, e := range es {
		if e.Line == 0 {
			continue
		}
		if lines == nil {
			lines = map[int]at{}
			for p, lc := range idx.positions() {
				idx.steps++
				b, ok := lines[lc[0]]
				if !ok || lc[1] < b.col || (lc[1] == b.col && (len(p) > len(b.path) || len(p) == len(b.path) && p < b.path)) {
					lines[lc[0]] = at{p, lc[1]}
				}
			}
		}
		idx.steps++
		if b, ok := lines[e.Line]; ok {
			e.Field, e.Col = b.path, b.col
		}
	}
	return capErrors(idx.file, es, more)
}

// capErrors keeps the first MaxErrors of es and says how many more there
// are, more of them having been dropped already.
func capErrors(file string, es Errors, more int) Errors {
	if len(es) > MaxErrors {
		es, more = es[:MaxErrors:MaxErrors], more+len(es)-MaxErrors
	}
	if more > 0 {
		es = append(es, &Error{File: file, Msg: fmt.Sprintf("and %d more errors; the first %d are listed", more, MaxErrors)})
	}
	return es
}

var stringListType = reflect.TypeOf(model.StringList(nil))

// checkKeys reports mapping keys the model does not know, with a
// suggestion, and rewrites a scalar written where a StringList is expected
// into a one-element sequence.
func checkKeys(n *yaml.Node, t reflect.Type, path string, idx *index, errs *Errors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		return // checked where the anchor stands; following aliases could explode
	}
	switch {
	case t == stringListType:
		if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
			item := *n
			n.Kind, n.Tag, n.Value, n.Style = yaml.SequenceNode, "!!seq", "", 0
			n.Content = []*yaml.Node{&item}
			if idx.lists == nil {
				idx.lists = map[*yaml.Node]bool{}
			}
			idx.lists[n] = true
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Tag != "!!null" {
				*errs = append(*errs, idx.at(path, "expected a mapping, found %s", describe(n)))
			}
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				e := &Error{File: idx.file, Line: k.Line, Col: k.Column, Field: joinPath(path, k.Value),
					Msg: fmt.Sprintf("unknown field %q%s", k.Value, suggest(k.Value, fields))}
				*errs = append(*errs, e)
				continue
			}
			checkKeys(v, ft, joinPath(path, k.Value), idx, errs)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return // the decoder names the type error
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), elemPath(path, i), idx, errs)
		}
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return fmt.Sprintf("%q", n.Value)
}

// fieldsOf holds yamlFields' maps, made once a type: every mapping of
// every profile asks for its type's.
var fieldsOf sync.Map // reflect.Type → map[string]reflect.Type

// yamlFields maps the yaml names of t's fields to their types. The map is
// shared: read it only.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldsOf.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	fieldsOf.Store(t, m)
	return m
}

// suggest names the closest known field when one is close.
func suggest(key string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, k := range names {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; known fields: " + strings.Join(names, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
