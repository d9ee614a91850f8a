package lazyre

import (
	"reflect"
	"regexp"
	"testing"
)

// TestCompiledOnFirstUse: New compiles nothing (an invalid expression is
// accepted until it is used), the first use compiles.
func TestCompiledOnFirstUse(t *testing.T) {
	bad := New(`(`)
	if bad.re != nil {
		t.Fatal("compiled by New")
	}
	defer func() {
		if recover() == nil {
			t.Error("an invalid expression did not panic on first use")
		}
	}()
	bad.MatchString("x")
}

// TestNewAllocs: declaring an expression costs one small allocation, not a
// compilation (regexp.MustCompile of the expression below makes hundreds).
func TestNewAllocs(t *testing.T) {
	const expr = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`
	if n := testing.AllocsPerRun(100, func() { New(expr) }); n > 1 {
		t.Errorf("New: %v allocations, want at most 1", n)
	}
	if n := testing.AllocsPerRun(1, func() { regexp.MustCompile(expr) }); n < 100 {
		t.Errorf("regexp.MustCompile: %v allocations: the comparison above no longer says anything", n)
	}
}

// TestMethods: every method answers as regexp.Regexp's of the same name.
func TestMethods(t *testing.T) {
	const expr = `(?i)\b(tcp|udp)\s*(\d+)`
	const s = "TCP 443, udp 3478 and tcp  5061"
	l, re := New(expr), regexp.MustCompile(expr)
	upper := func(s string) string { return "<" + s + ">" }
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"String", l.String(), re.String()},
		{"MatchString", l.MatchString(s), re.MatchString(s)},
		{"FindString", l.FindString(s), re.FindString(s)},
		{"FindStringIndex", l.FindStringIndex(s), re.FindStringIndex(s)},
		{"FindStringSubmatch", l.FindStringSubmatch(s), re.FindStringSubmatch(s)},
		{"FindAllStringIndex", l.FindAllStringIndex(s, -1), re.FindAllStringIndex(s, -1)},
		{"FindAllStringSubmatch", l.FindAllStringSubmatch(s, 2), re.FindAllStringSubmatch(s, 2)},
		{"FindAllStringSubmatchIndex", l.FindAllStringSubmatchIndex(s, -1), re.FindAllStringSubmatchIndex(s, -1)},
		{"ReplaceAllString", l.ReplaceAllString(s, "$2/$1"), re.ReplaceAllString(s, "$2/$1")},
		{"ReplaceAllStringFunc", l.ReplaceAllStringFunc(s, upper), re.ReplaceAllStringFunc(s, upper)},
		{"Split", l.Split(s, -1), re.Split(s, -1)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %q, regexp says %q", c.name, c.got, c.want)
		}
	}
	if l.Regexp() != l.Regexp() {
		t.Error("compiled twice")
	}
	if n := testing.AllocsPerRun(100, func() { l.MatchString(s) }); n != 0 {
		t.Errorf("MatchString once compiled: %v allocations, want 0", n)
	}
}
