package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTokenSources: probe and reflect take the token from --token-file
// (or stdin) and $PORTOLAN_TOKEN as well as --token; bad files are named.
func TestTokenSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	good := write("good.token", "0123456789abcdef\n", 0o600)
	open := write("open.token", "0123456789abcdef\n", 0o644)
	empty := write("empty.token", "\n", 0o600)
	two := write("two.token", "0123456789abcdef\nsecond\n", 0o600)
	for _, tc := range []struct {
		name             string
		flags            tokenFlags
		env, stdin       string
		want, from, warn string
		err              string
	}{
		{name: "file", flags: tokenFlags{file: good}, want: "0123456789abcdef", from: "--token-file " + good},
		{name: "file readable by others", flags: tokenFlags{file: open}, want: "0123456789abcdef", warn: "readable by others (mode 0644); chmod 600"},
		{name: "stdin", flags: tokenFlags{file: "-"}, stdin: "0123456789abcdef\n", want: "0123456789abcdef"},
		{name: "environment", env: "0123456789abcdef", want: "0123456789abcdef", from: "$PORTOLAN_TOKEN"},
		{name: "flag", flags: tokenFlags{token: "0123456789abcdef"}, env: "other-token-value", want: "0123456789abcdef", warn: "shows the token to anyone who runs ps"},
		{name: "both", flags: tokenFlags{token: "x", file: good}, err: "give one of them"},
		{name: "missing", flags: tokenFlags{file: filepath.Join(dir, "nosuch")}, err: "--token-file " + filepath.Join(dir, "nosuch")},
		{name: "empty", flags: tokenFlags{file: empty}, err: "empty"},
		{name: "two lines", flags: tokenFlags{file: two}, err: "line 1: the token is one word on one line"},
		{name: "a directory", flags: tokenFlags{file: dir}, err: "--token-file " + dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PORTOLAN_TOKEN", tc.env)
			var warn strings.Builder
			got, from, err := tc.flags.get(&warn, strings.NewReader(tc.stdin))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || tc.from != "" && from != tc.from {
				t.Errorf("got %q from %q (%v), want %q from %q", got, from, err, tc.want, tc.from)
			}
			if tc.warn == "" && warn.Len() > 0 || !strings.Contains(warn.String(), tc.warn) {
				t.Errorf("warnings %q, want %q", warn.String(), tc.warn)
			}
		})
	}
}

// TestReflectTokenFileAndListen: reflect takes its token from a file,
// --listen HOST alone takes the default port, and it tells how a probe
// reuses the token; a probe takes the same file.
func TestReflectTokenFileAndListen(t *testing.T) {
	t.Setenv("PORTOLAN_TOKEN", "")
	tok := filepath.Join(t.TempDir(), "reflector.token")
	os.WriteFile(tok, []byte("0123456789abcdef\n"), 0o600)
	// A probe given the file gets past the token check to the reflector's
	// address (which does not resolve with --no-resolve).
	_, errs, code := portolan("probe", "tw-solutions", "--no-resolve", "--reflector", "reflector.invalid", "--token-file", tok)
	if code != 2 || strings.Contains(errs, "needs --token") || !strings.Contains(errs, "reflector.invalid") {
		t.Errorf("probe --token-file: exit %d: %s", code, errs)
	}
	// reflect on 127.0.0.1 alone listens on port 7478 and tells the
	// probe command that reuses its token; stopped once it listens.
	root := newRoot()
	var errb syncBuffer
	root.SetArgs([]string{"reflect", "--listen", "127.0.0.1", "--token-file", tok, "--stats", "0", "--shards", "1"})
	root.SetOut(&errb)
	root.SetErr(&errb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	for i := 0; !strings.Contains(errb.String(), "probes use it") && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("reflect: %v: %s", err, errb.String())
	}
	for _, want := range []string{"listening on 127.0.0.1:7478", "portolan probe SERVICE... --reflector 127.0.0.1 --token-file " + tok} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("reflect --listen 127.0.0.1 --token-file: no %q in\n%s", want, errb.String())
		}
	}
	if got := probeHint("127.0.0.1:7478", "--token-file "+tok); got != "portolan reflect: probes use it with: portolan probe SERVICE... --reflector 127.0.0.1 --token-file "+tok+" (a copy of it)" {
		t.Errorf("hint %q", got)
	}
	if got := probeHint("[::]:7000", "$PORTOLAN_TOKEN"); !strings.Contains(got, "--reflector THIS-HOST:7000 with PORTOLAN_TOKEN") {
		t.Errorf("hint %q", got)
	}
}
