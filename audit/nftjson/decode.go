package nftjson

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/portolan/portolan/internal/safeio"
)

// obj is a JSON object as its members in order. nft's objects have a
// handful of keys, for which a slice is much cheaper than a map: a 100,000
// rule dump holds about two million of them.
type obj []member

type member struct {
	k string
	v any
}

// get returns the value of key k, or nil.
func (o obj) get(k string) any {
	for i := range o {
		if o[i].k == k {
			return o[i].v
		}
	}
	return nil
}

// has returns the value of key k and whether it is there.
func (o obj) has(k string) (any, bool) {
	for i := range o {
		if o[i].k == k {
			return o[i].v, true
		}
	}
	return nil, false
}

// decoder reads JSON into obj, []any, string, json.Number, bool and nil.
type decoder struct {
	data  []byte
	pos   int
	depth int
	// members and elements of the objects and arrays being read, each
	// copied out at its end into a slice of its size
	members []member
	elems   []any
	// short strings and numbers read before, boxed: nft's JSON says
	// "family", "inet", "match", 0 … millions of times
	short, shortNums map[string]any
	// slab is where objects' members are copied out: one allocation for
	// hundreds of objects (an object's slice has no room to grow)
	slab []member
	// objs are small objects read before, by their text
	objs map[string]any
	// recent are short strings read before, by a hash of their text
	recent [256]struct {
		s string
		v any
	}
	// straight: the elements of the nftables array that are rules, and
	// their statements, are read straight where they can be (fast.go)
	straight bool
	same     []sameStmt   // matches read before, by their text
	stmts    uint32       // matches made
	rules    []fastRule   // a slab
	payloads [64]struct { // payload expressions read before
		proto, field string
		l            left
		ok           bool
	}
	lists []any // a slab for the lists of statements
}

// Small objects are shared by their text: nft's JSON repeats the same
// ones in every rule ({"payload": {"protocol": "ip", "field": "saddr"}},
// {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}); the same
// text decodes to the same value, which the parser only reads.
const (
	maxSharedObjLen = 96
	maxSharedObjs   = 4096
)

// shareObj returns the object of text raw, members ms: one read before
// from the same text, or a new one.
func (d *decoder) shareObj(raw []byte, ms []member) any {
	if len(raw) > maxSharedObjLen {
		return d.newObj(ms)
	}
	if v, ok := d.objs[string(raw)]; ok {
		return v
	}
	if len(d.objs) >= maxSharedObjs {
		return d.newObj(ms)
	}
	if d.objs == nil {
		d.objs = make(map[string]any, 256)
	}
	// of its own size, not in a slab, which it would keep alive
	var v any = append(make(obj, 0, len(ms)), ms...)
	d.objs[string(raw)] = v
	return v
}

// slabLen is the members of one slab.
const slabLen = 1024

// newObj copies ms out into an object of its size.
func (d *decoder) newObj(ms []member) obj {
	n := len(ms)
	if n > len(d.slab) {
		if n > slabLen/8 {
			return append(make(obj, 0, n), ms...)
		}
		d.slab = make([]member, slabLen)
	}
	o := obj(d.slab[:n:n])
	d.slab = d.slab[n:]
	copy(o, ms)
	return o
}

// maxShort bounds what is shared, and how many.
const (
	maxShortLen = 24
	maxShorts   = 4096
)

// intern returns b as a string or json.Number in an interface, shared with
// earlier equal ones when short.
func (d *decoder) intern(b []byte, number bool) any {
	if len(b) > maxShortLen {
		if number {
			return json.Number(b)
		}
		return string(b)
	}
	if !number {
		// most strings are found in a small cache, without hashing them
		// for the map: nft's JSON says the same few again and again
		h := uint(len(b))
		for _, c := range b {
			h = h*31 + uint(c)
		}
		e := &d.recent[h%uint(len(d.recent))]
		if e.s == string(b) && e.v != nil {
			return e.v
		}
		v := d.internMap(b, false)
		e.s, e.v = v.(string), v
		return v
	}
	return d.internMap(b, number)
}

// internMap is intern through the maps of short strings and numbers: a
// number and a string of the same text are different values, kept apart
// (one map with numbers keyed "#5" took the string "#5" for the number 5,
// and the other way round).
func (d *decoder) internMap(b []byte, number bool) any {
	m := &d.short
	if number {
		m = &d.shortNums
	}
	if v, ok := (*m)[string(b)]; ok {
		return v
	}
	var v any
	if number {
		v = json.Number(b)
	} else {
		v = string(b)
	}
	if *m == nil {
		*m = make(map[string]any, 256)
	}
	if len(d.short)+len(d.shortNums) < maxShorts {
		(*m)[string(b)] = v
	}
	return v
}

// maxDepth bounds nesting; nft's JSON is a dozen levels deep.
const maxDepth = 512

// MaxString bounds a string: nft's longest are comments of at most 128
// bytes and names of 256.
const MaxString = 1 << 20

type syntaxErr struct {
	off int
	msg string
}

func (e *syntaxErr) Error() string { return e.msg }

func (d *decoder) fail(format string, args ...any) error {
	return &syntaxErr{d.pos, fmt.Sprintf(format, args...)}
}

// failAt is fail for a fault that begins at offset off.
func (d *decoder) failAt(off int, format string, args ...any) error {
	return &syntaxErr{off, fmt.Sprintf(format, args...)}
}

func (d *decoder) space() {
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c > ' ': // most often: nft prints no space
			return
		case c == ' ', c == '\t', c == '\r', c == '\n':
			d.pos++
		default:
			return
		}
	}
}

// decode reads one whole document.
func decode(data []byte) (any, error) {
	d := &decoder{data: data}
	d.space()
	if d.pos == len(d.data) {
		return nil, d.fail("empty input")
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.space()
	if d.pos != len(d.data) {
		return nil, d.fail("more after the JSON document")
	}
	return v, nil
}

func (d *decoder) value() (any, error) {
	d.space()
	if d.pos >= len(d.data) {
		return nil, d.fail("unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.strValue()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case d.lit("true"):
		return true, nil
	case d.lit("false"):
		return false, nil
	case d.lit("null"):
		return nil, nil
	default:
		return nil, d.fail("invalid character %q looking for a value", c)
	}
}

// peek returns the next byte after space, or 0 at the end.
func (d *decoder) peek() byte {
	d.space()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *decoder) lit(s string) bool {
	if len(d.data)-d.pos >= len(s) && string(d.data[d.pos:d.pos+len(s)]) == s {
		d.pos += len(s)
		return true
	}
	return false
}

func (d *decoder) object() (any, error) {
	if d.depth++; d.depth > maxDepth {
		return nil, d.fail("nested too deeply")
	}
	base := len(d.members)
	v, err := d.objectBody(base)
	d.depth--
	d.members = d.members[:base]
	return v, err
}

// objectBody reads an object's members after base in d.members.
func (d *decoder) objectBody(base int) (any, error) {
	start := d.pos
	d.pos++ // {
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return obj{}, nil
	}
	for {
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.fail("expected a string key")
		}
		kv, err := d.strValue()
		if err != nil {
			return nil, err
		}
		k := kv.(string)
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.fail("expected ':' after the key %q", k)
		}
		d.pos++
		var v any
		if d.straight && d.depth == 4 && k == "expr" && d.peek() == '[' {
			// a rule's statements: {"nftables": [{"rule": {"expr": [
			var l []any
			l, err = d.exprArray()
			v = l
		} else {
			v, err = d.value()
		}
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, member{k, v})
		d.space()
		if d.pos >= len(d.data) {
			return nil, d.fail("unexpected end of input in an object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return d.shareObj(d.data[start:d.pos], d.members[base:]), nil
		default:
			return nil, d.fail("invalid character %q after an object member", d.data[d.pos])
		}
	}
}

func (d *decoder) array() (any, error) {
	if d.depth++; d.depth > maxDepth {
		return nil, d.fail("nested too deeply")
	}
	base := len(d.elems)
	v, err := d.arrayBody(base)
	d.depth--
	d.elems = d.elems[:base]
	return v, err
}

// arrayBody reads an array's elements after base in d.elems.
func (d *decoder) arrayBody(base int) (any, error) {
	if err := d.elements(d.value); err != nil {
		return nil, err
	}
	return append(make([]any, 0, len(d.elems)-base), d.elems[base:]...), nil
}

// elements reads the elements of the array at d.pos, each by read, onto
// d.elems, and the array's closing bracket.
func (d *decoder) elements(read func() (any, error)) error {
	d.pos++ // [
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return nil
	}
	for {
		v, err := read()
		if err != nil {
			return err
		}
		d.elems = append(d.elems, v)
		d.space()
		if d.pos >= len(d.data) {
			return d.fail("unexpected end of input in an array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.fail("invalid character %q after an array element", d.data[d.pos])
		}
	}
}

// str reads a string.
func (d *decoder) str() (string, error) {
	v, err := d.strValue()
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// strValue reads a string into an interface, shared when short.
func (d *decoder) strValue() (any, error) {
	d.pos++ // "
	start := d.pos
	ascii := true
	// the common case: no escapes
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := d.data[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(s) {
				return string([]rune(string(s))), nil // invalid bytes become U+FFFD, as encoding/json does
			}
			return d.intern(s, false), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.fail("a control character in a string")
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
		if d.pos-start >= MaxString {
			return "", d.failAt(start-1, "a string longer than %s; nft writes none so long", safeio.Size(MaxString))
		}
		d.pos++
	}
	buf := append([]byte(nil), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(buf) {
				return string([]rune(string(buf))), nil
			}
			return string(buf), nil
		case c < 0x20:
			return "", d.fail("a control character in a string")
		case len(buf) >= MaxString:
			return "", d.failAt(start-1, "a string longer than %s; nft writes none so long", safeio.Size(MaxString))
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.data) {
			break
		}
		e := d.data[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4(d.pos)
			if !ok {
				return "", d.fail("a bad \\u escape")
			}
			d.pos += 4
			if utf16.IsSurrogate(r) {
				// A valid pair takes the next escape along; otherwise the
				// surrogate alone becomes U+FFFD and the next escape is read
				// on its own, as encoding/json does.
				r2, ok := rune(0), false
				if len(d.data)-d.pos >= 2 && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					r2, ok = d.hex4(d.pos + 2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					d.pos += 6
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", d.fail("invalid escape \\%c", e)
		}
	}
	return "", d.fail("unexpected end of input in a string")
}

// hex4 reads the four hex digits of a \u escape at offset at.
func (d *decoder) hex4(at int) (rune, bool) {
	if len(d.data)-at < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(d.data[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

func (d *decoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.pos < len(d.data) && d.data[d.pos] == '0' {
		d.pos++
	} else if digits() == 0 {
		return nil, d.fail("a number without digits")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return nil, d.fail("a number without digits after the point")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.fail("a number without digits in the exponent")
		}
	}
	return d.intern(d.data[start:d.pos], true), nil
}

// stream reads one whole document like decode, but when it is an object
// whose first "nftables" member is an array, it hands each element of that
// array to each as soon as it is read and keeps none of them: only the
// elements each still holds are alive. isObj and found tell what the
// document was; the error is a syntax error.
func stream(data []byte, each func(i int, v any)) (isObj, found bool, err error) {
	d := &decoder{data: data, straight: true}
	d.space()
	if d.pos == len(d.data) {
		return false, false, d.fail("empty input")
	}
	if d.data[d.pos] != '{' {
		if _, err := d.value(); err != nil {
			return false, false, err
		}
	} else {
		isObj = true
		if found, err = d.topObject(each); err != nil {
			return false, false, err
		}
	}
	d.space()
	if d.pos != len(d.data) {
		return false, false, d.fail("more after the JSON document")
	}
	return isObj, found, nil
}

// topObject is object for the document itself, streaming the elements of
// its first "nftables" member when that is an array.
func (d *decoder) topObject(each func(i int, v any)) (found bool, err error) {
	d.depth++ // as object does
	defer func() { d.depth-- }()
	d.pos++ // {
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return false, nil
	}
	seen := false // a first "nftables" member was read
	for {
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return false, d.fail("expected a string key")
		}
		k, err := d.str()
		if err != nil {
			return false, err
		}
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return false, d.fail("expected ':' after the key %q", k)
		}
		d.pos++
		d.space()
		if k == "nftables" && !seen && d.pos < len(d.data) && d.data[d.pos] == '[' {
			seen, found = true, true
			if err = d.streamArray(each); err != nil {
				return false, err
			}
		} else {
			if k == "nftables" {
				seen = true
			}
			if _, err := d.value(); err != nil {
				return false, err
			}
		}
		d.space()
		if d.pos >= len(d.data) {
			return false, d.fail("unexpected end of input in an object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return found, nil
		default:
			return false, d.fail("invalid character %q after an object member", d.data[d.pos])
		}
	}
}

// streamArray is array, handing each element to each instead of keeping it.
func (d *decoder) streamArray(each func(i int, v any)) error {
	if d.depth++; d.depth > maxDepth {
		return d.fail("nested too deeply")
	}
	defer func() { d.depth-- }()
	d.pos++ // [
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		var v any
		d.space()
		start, depth := d.pos, d.depth
		if f := d.straightRule(); f != nil {
			v = f
		} else {
			d.pos, d.depth = start, depth
			var err error
			if v, err = d.value(); err != nil {
				return err
			}
		}
		each(i, v)
		d.space()
		if d.pos >= len(d.data) {
			return d.fail("unexpected end of input in an array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.fail("invalid character %q after an array element", d.data[d.pos])
		}
	}
}
