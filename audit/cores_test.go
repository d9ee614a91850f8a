package audit

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/portolan/portolan/report"
)

// The flows are audited on every core, sharing evaluations: the report is
// the same, byte for byte, whatever the number of cores.
func TestReportSameOnAnyCores(t *testing.T) {
	rules, skips, err := planAll()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Load("x.rules", synthIptables(1000), "iptables-save")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(rs, benchSite)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var want []byte
	for _, procs := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		var b bytes.Buffer
		if err := report.WriteJSON(&b, a.Audit(rules, skips, Options{})); err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = b.Bytes()
			continue
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%d cores: the report differs from one core's", procs)
		}
	}
}
