// Package textsafe makes text from users and documents safe to show: on a
// terminal, where control characters (ESC, BEL…) would drive the terminal,
// and in generated configuration comments, where bidirectional overrides
// (U+202E) and zero-width characters would make a comment read other than
// it is.
package textsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Hidden reports whether r is a character that changes how the text around
// it reads without showing itself: bidirectional controls, zero-width
// characters and other format characters (Unicode category Cf), and the
// byte-order mark.
func Hidden(r rune) bool {
	return unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// unsafe reports whether r must not reach a terminal as it is.
func unsafe(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || Hidden(r)
}

// Terminal returns s with every control character, format character and
// invalid byte written as a Go escape (\x1b, \n, \u202e), so that it can be
// printed to a terminal or a log line and read as what it is. Tab is kept.
// Text without such characters is returned unchanged.
func Terminal(s string) string {
	if clean(s, true) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteByte('\t')
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && unsafe(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Comment returns s fit for one comment line of generated configuration:
// line breaks and tabs become spaces, other control and format characters
// and invalid bytes are dropped, and runs of spaces are folded into one.
func Comment(s string) string {
	if clean(s, false) && !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == ' ' || r == '\u2028' || r == '\u2029':
			space = true
			continue
		case unsafe(r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

func clean(s string, allowTab bool) bool {
	for _, r := range s {
		if r == '\t' && allowTab {
			continue
		}
		if unsafe(r) {
			return false
		}
	}
	return true
}
