package iptables_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/targettest"
)

// allInput is targettest.AllServices prepared, as in nftables' benchmarks.
func allInput(b *testing.B) *target.Input {
	b.Helper()
	in, err := target.Prepare(context.Background(), targettest.AllServices(b))
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkWrite writes both families' restore files.
func BenchmarkWrite(b *testing.B) {
	in := allInput(b)
	var st target.Stats
	for b.Loop() {
		st = target.Stats{}
		for _, fam := range []int{4, 6} {
			var buf bytes.Buffer
			res, err := (iptables.Target{Family: fam}).Write(&buf, in)
			if err != nil {
				b.Fatal(err)
			}
			st.Rules += res.Stats.Rules
		}
	}
	b.ReportMetric(float64(st.Rules), "rules")
}

// BenchmarkRestore loads both files with iptables-restore --noflush and
// ip6tables-restore --noflush into a namespace.
func BenchmarkRestore(b *testing.B) {
	in := allInput(b)
	files := map[string][]byte{}
	for fam, prog := range map[int]string{4: "iptables-restore", 6: "ip6tables-restore"} {
		var buf bytes.Buffer
		if _, err := (iptables.Target{Family: fam}).Write(&buf, in); err != nil {
			b.Fatal(err)
		}
		files[prog] = buf.Bytes()
	}
	l := netlab.New(b)
	for b.Loop() {
		for prog, data := range files {
			if _, err := l.Router.RunInput(data, prog, "--noflush"); err != nil {
				b.Fatal(err)
			}
		}
	}
}
