// Package testenv holds what tests share about their environment: where the
// seed documents are, and the rule that under CI=true a test whose setup is
// missing fails instead of skipping.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// CI reports whether the tests run in CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test, or fails it under CI=true, where every test
// must run.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf("CI=true and this test cannot run: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot returns the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// SeedsDir returns the directory of the seed documents: $PORTOLAN_SEEDS, or
// shared/seeds beside the checkout (../shared/seeds) or beside any
// directory above it. The documents are not copied into the project.
func SeedsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PORTOLAN_SEEDS"); d != "" {
		return d
	}
	for dir := RepoRoot(t); ; {
		cand := filepath.Join(filepath.Dir(dir), "shared", "seeds")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	SkipOrFail(t, "the seed documents are not in ../shared/seeds; set PORTOLAN_SEEDS")
	return ""
}

// Allocs returns the bytes allocated while f runs, and the bytes of heap
// still held after it by what it returned (kept alive until measured).
func Allocs(f func() any) (total, held uint64) {
	var m0, m1, m2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	v := f()
	runtime.ReadMemStats(&m1)
	runtime.GC()
	runtime.ReadMemStats(&m2)
	runtime.KeepAlive(v)
	return m1.TotalAlloc - m0.TotalAlloc, m2.HeapAlloc - min(m2.HeapAlloc, m0.HeapAlloc)
}
