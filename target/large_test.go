package target_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

// TestLargeLoads checks that the outputs BenchmarkLarge times are ones
// the tools take: ip6tables-restore --test and nft -c, each in a namespace
// of its own, with a rule per flow and address (iptables) and every
// flow's port in them.
func TestLargeLoads(t *testing.T) {
	l := netlab.New(t)
	for _, shared := range []bool{false, true} {
		in, err := target.Prepare(context.Background(), targettest.Large(t, 150, 50, shared))
		if err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			tg   target.Target
			args []string
		}{
			{iptables.Target{Family: 6}, []string{"ip6tables-restore", "--test", "--noflush"}},
			{nftables.Target{}, []string{"nft", "-c", "-f", "-"}},
		}
		for _, c := range checks {
			var b bytes.Buffer
			if _, err := c.tg.Write(&b, in); err != nil {
				t.Fatal(err)
			}
			if out, err := l.Router.RunInput(b.Bytes(), c.args[0], c.args[1:]...); err != nil {
				t.Errorf("shared=%v: %s: %v\n%.2000s", shared, strings.Join(c.args, " "), err, out)
			}
			text := b.String()
			for _, port := range []string{"10000", "10298"} {
				if !strings.Contains(text, port) {
					t.Errorf("shared=%v %s: port %s missing", shared, c.tg.Name(), port)
				}
			}
		}
	}
}
