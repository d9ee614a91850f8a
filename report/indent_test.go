package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// indent writes what json.Indent writes, for every value encoding/json
// can produce.
func TestIndentAsEncodingJSON(t *testing.T) {
	for _, v := range []any{
		nil, true, 1.5, "a\"b\\c}{][,:", []any{}, map[string]any{},
		[]any{1, []any{}, map[string]any{}, "x"},
		map[string]any{"a": []any{map[string]any{"b": nil, "c": "d,e:f"}}, "g": map[string]any{}},
		map[string]any{"quote\"d": "\\", "u": "\u2028 <>&"},
	} {
		checkIndent(t, v)
	}
}

func checkIndent(t *testing.T, v any) {
	t.Helper()
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Skip(err)
	}
	var want bytes.Buffer
	if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	if got := indent(nil, compact.Bytes()); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("indent(%s) =\n%s\nwant\n%s", compact.Bytes(), got, want.Bytes())
	}
	// written a few bytes at a time, the same bytes
	for _, chunk := range []int{1, 7} {
		var got bytes.Buffer
		if err := writeIndented(&got, compact.Bytes(), chunk); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("writeIndented(%s, %d) = %v\n%s\nwant\n%s", compact.Bytes(), chunk, err, got.Bytes(), want.Bytes())
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(b []byte) (int, error) {
	w.n++
	return 0, errors.New("disk full")
}

// A writer's error is returned, and nothing more is written after it.
func TestWriteIndentedError(t *testing.T) {
	w := &failWriter{}
	if err := writeIndented(w, []byte(`{"a":[1,2,3],"b":"cdefgh"}`), 4); err == nil || err.Error() != "disk full" {
		t.Errorf("error %v, want disk full", err)
	}
	if w.n != 1 {
		t.Errorf("%d writes, want 1", w.n)
	}
}

// FuzzIndent: for any JSON document, re-encoded as encoding/json writes
// it, indent agrees with json.Indent byte for byte.
func FuzzIndent(f *testing.F) {
	for _, s := range []string{`{"a":[1,{},[]],"b":"x\"y"}`, `[]`, `"s"`, `{"":{"":[null,true]}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		checkIndent(t, v)
	})
}
