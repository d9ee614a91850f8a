// Command portolan turns the firewall requirements of real-time
// communication vendors into a catalog, firewall configuration, an audit of
// an existing ruleset and a live probe.
//
// Exit codes: 0 success; 1 the check failed (an invalid profile, a flow
// that is not allowed or does not work); 2 a usage error or unreadable input.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/portolan/portolan/internal/textsafe"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context that ends long-running commands (probe,
// reflect) as an interrupt would.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			warn(stderr, "%s", ee.msg)
		}
		return ee.code
	}
	warn(stderr, "%v", err)
	return 2
}

// warn writes "portolan: …" to w, one line per line of the message (an
// error may list several problems, one a line), with control characters,
// bidirectional overrides and invalid bytes of user and profile text
// escaped (textsafe.Terminal), so that a ruleset or profile cannot drive the
// terminal through an error message. Every error and warning of the CLI
// goes through it.
func warn(w io.Writer, format string, args ...any) {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(fmt.Sprintf(format, args...), "\n"), "\n") {
		b.WriteString("portolan: ")
		b.WriteString(textsafe.Terminal(l))
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}

// exitError ends the command with a code; msg, when set, goes to stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("exit %d", e.code)
}

// failed is the exit error of a check that ran and found a problem: the
// command's output already says what.
func failed(msg string) error { return &exitError{code: 1, msg: msg} }
