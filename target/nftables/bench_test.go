package nftables_test

import (
	"bytes"
	"context"
	"testing"

	"go4.org/netipx"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

// BenchmarkGenerate is `portolan rules all --all-features` without the
// process start: expand, resolve (pinned), plan and write nftables.
func BenchmarkGenerate(b *testing.B) {
	cfg := targettest.AllServices(b)
	var st target.Stats
	b.ReportAllocs()
	for b.Loop() {
		in, err := target.Prepare(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		res, err := (nftables.Target{}).Write(&buf, in)
		if err != nil {
			b.Fatal(err)
		}
		st = res.Stats
	}
	b.ReportMetric(float64(st.Rules), "rules")
	b.ReportMetric(float64(st.Elements), "set-elements")
}

// BenchmarkNftLoad loads that ruleset with nft -f into a namespace, as
// an administrator would: the kernel's side of the same job.
func BenchmarkNftLoad(b *testing.B) {
	cfg := targettest.AllServices(b)
	in, err := target.Prepare(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := (nftables.Target{}).Write(&buf, in); err != nil {
		b.Fatal(err)
	}
	l := netlab.New(b)
	for b.Loop() {
		if err := l.Router.Nft(buf.String()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSyncPlan is the work of portolan sync besides asking DNS and
// the kernel: plan the refresh of every set with names.
func BenchmarkSyncPlan(b *testing.B) {
	cfg := targettest.AllServices(b)
	in, err := target.Prepare(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	_, sets, err := nftables.Sets(in)
	if err != nil {
		b.Fatal(err)
	}
	// As if the loaded sets were all empty: every set with names changes.
	loaded := map[string]*netipx.IPSet{}
	for name := range sets {
		loaded[name] = &netipx.IPSet{}
	}
	for b.Loop() {
		if _, err := nftables.Sync(in, loaded); err != nil {
			b.Fatal(err)
		}
	}
}
