package catalog

import (
	"os"
	"testing"
)

// FuzzLoadModel is FuzzLoad seeded with the test profiles of the fields
// of issue 8 items 23-29 (roles lists, remote_roles, platforms, port
// expressions, local_src_ports, host-name patterns): the loader must
// never panic on their mutations either.
//
//	go test ./catalog -run '^$' -fuzz FuzzLoadModel -fuzztime 60s
func FuzzLoadModel(f *testing.F) {
	files, _ := ProfileFiles("testdata/model")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		svc, err := Load("fuzz.yaml", data)
		if err == nil && (svc == nil || len(svc.Flows) == 0) {
			t.Fatalf("Load accepted a profile without flows")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("an error that says nothing")
		}
	})
}
