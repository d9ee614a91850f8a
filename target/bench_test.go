package target_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

// BenchmarkLarge writes a large site's policy (targettest.Large: flows ×
// 50 addresses each) with the iptables target (ip6tables-restore: the
// addresses are IPv6 documentation addresses, the only ones there are
// enough of) and the nftables target, in one run, at two sizes: time per
// flow must stay the same from 150 to 1,500 flows. "shared" sends every
// flow to the same 50 addresses, so that each rule stands for every flow.
func BenchmarkLarge(b *testing.B) {
	for _, shape := range []string{"distinct", "shared"} {
		for _, flows := range []int{150, 1500} {
			in, err := target.Prepare(context.Background(), targettest.Large(b, flows, 50, shape == "shared"))
			if err != nil {
				b.Fatal(err)
			}
			for _, tg := range []target.Target{iptables.Target{Family: 6}, nftables.Target{}} {
				benchWrite(b, fmt.Sprintf("%s/%s/flows=%d", shape, tg.Name(), flows), tg, in, flows)
			}
		}
	}
}

func benchWrite(b *testing.B, name string, tg target.Target, in *target.Input, flows int) {
	b.Run(name, func(b *testing.B) {
		var st target.Stats
		for b.Loop() {
			var buf bytes.Buffer
			res, err := tg.Write(&buf, in)
			if err != nil {
				b.Fatal(err)
			}
			st = res.Stats
		}
		b.ReportMetric(float64(st.Rules), "rules")
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(flows), "µs/flow")
	})
}
