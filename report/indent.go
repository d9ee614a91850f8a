package report

import "io"

// indent appends src, compact JSON as encoding/json writes it, to dst
// indented by two spaces a level, exactly as json.Indent(dst, src, "",
// "  ") would, at a fraction of its cost (it does not validate: src comes
// from encoding/json). Empty objects and arrays stay "{}" and "[]".
func indent(dst, src []byte) []byte { return indentFlush(dst, src, 0, nil) }

// writeIndented writes src to w indented as indent does, chunk bytes or
// so at a time rather than all at once (a report of 100k rules is a few
// MB indented).
func writeIndented(w io.Writer, src []byte, chunk int) error {
	var err error
	dst := indentFlush(make([]byte, 0, 2*chunk), src, chunk, func(b []byte) []byte {
		if err == nil {
			_, err = w.Write(b)
		}
		return b[:0]
	})
	if err == nil {
		_, err = w.Write(dst)
	}
	return err
}

// indentFlush is indent handing dst to flush, which returns what to go on
// appending to, each time it holds at least chunk bytes (never with a nil
// flush).
func indentFlush(dst, src []byte, chunk int, flush func([]byte) []byte) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		if flush != nil && len(dst) >= chunk {
			dst = flush(dst)
		}
		c := src[i]
		switch c {
		case '"':
			// copy the string whole, escapes and all
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			dst = append(dst, src[i:j]...)
			i = j - 1
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
