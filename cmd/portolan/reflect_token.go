package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/internal/textsafe"
)

// tokenFlags are the ways probe and reflect take the reflector's token:
// --token (seen by anyone who runs ps), --token-file FILE or "-" for
// stdin, or $PORTOLAN_TOKEN.
type tokenFlags struct{ token, file string }

// maxTokenFile bounds what --token-file reads.
const maxTokenFile = 4096

func (t *tokenFlags) register(f *pflag.FlagSet) {
	f.StringVar(&t.token, "token", "", "the reflector's token (visible in ps: prefer --token-file or $PORTOLAN_TOKEN)")
	f.StringVar(&t.file, "token-file", "", "read the reflector's token from FILE (one line; - for stdin); warned about when others may read it")
}

// get returns the token: from --token, --token-file or $PORTOLAN_TOKEN,
// and where it came from, for the user's hints; "" when none is given.
// Warnings go to warn, one line each.
func (t *tokenFlags) get(warn io.Writer, stdin io.Reader) (token, from string, err error) {
	switch {
	case t.token != "" && t.file != "":
		return "", "", fmt.Errorf("--token and --token-file: give one of them")
	case t.token != "":
		fmt.Fprintln(warn, "portolan: warning: --token shows the token to anyone who runs ps; use --token-file FILE or $PORTOLAN_TOKEN")
		return t.token, "--token", nil
	case t.file != "":
		tok, err := readTokenFile(t.file, warn, stdin)
		return tok, "--token-file " + t.file, err
	}
	return os.Getenv("PORTOLAN_TOKEN"), "$PORTOLAN_TOKEN", nil
}

// readTokenFile reads a token file: one line, surrounding white space
// dropped. A file that group or others may read is used, with a warning
// (ssh refuses such a key; a token only lets a client use the reflector,
// bounded and rate-limited, so a warning is enough).
func readTokenFile(path string, warn io.Writer, stdin io.Reader) (string, error) {
	name := textsafe.Terminal(path)
	b, err := safeio.ReadFile(path, maxTokenFile, stdin)
	if err != nil {
		return "", fmt.Errorf("--token-file %s: %v", name, err)
	}
	tok := bytes.TrimSpace(b)
	switch {
	case len(tok) == 0:
		return "", fmt.Errorf("--token-file %s: empty; write a token in it (openssl rand -hex 16 > %s)", name, name)
	case bytes.ContainsAny(tok, " \t\r\n"):
		return "", fmt.Errorf("--token-file %s: line 1: the token is one word on one line", name)
	}
	if path != safeio.Stdin {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(warn, "portolan: warning: --token-file %s: readable by others (mode %04o); chmod 600 %s\n", name, fi.Mode().Perm(), name)
		}
	}
	return string(tok), nil
}
