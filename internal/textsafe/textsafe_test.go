package textsafe

import "testing"

func TestTerminal(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text, ünïcode 端口", "plain text, ünïcode 端口"},
		{"tab\tkept", "tab\tkept"},
		{"\x1b[2Jcleared\a", `\x1b[2Jcleared\x07`},
		{"line\nforged", `line\nforged`},
		{"cr\rover", `cr\rover`},
		{"rtl \u202eevil", `rtl \u202eevil`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"bad \xff byte", `bad \xff byte`},
		{"c1 \u009b", `c1 \u009b`},
		{"del \x7f", `del \x7f`},
	} {
		if got := Terminal(c.in); got != c.want {
			t.Errorf("Terminal(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestComment(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"StarLeaf tunnel", "StarLeaf tunnel"},
		{"two\nlines\r\nhere", "two lines here"},
		{"a  \t b", "a b"},
		{"rtl \u202eevil\u2066", "rtl evil"},
		{"zero\u200bwidth", "zerowidth"},
		{"\x1b[31mred", "[31mred"},
		{"bad \xff byte", "bad byte"},
		{"  leading", "leading"},
	} {
		if got := Comment(c.in); got != c.want {
			t.Errorf("Comment(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
