package k8ssel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestLabelSelector checks that equality requirements become matchLabels
// and the others matchExpressions, and that bad or empty selectors fail.
func TestLabelSelector(t *testing.T) {
	tests := []struct {
		in, labels, exprs, err string
	}{
		{"app=pbx,tier=sip", "map[app:pbx tier:sip]", "[]", ""},
		{"app=pbx,tier in (sip,media),!legacy", "map[app:pbx]", "[{legacy DoesNotExist []} {tier In [media sip]}]", ""},
		{"app.kubernetes.io/name==pbx", "map[app.kubernetes.io/name:pbx]", "[]", ""},
		{"", "", "", "--selector is required"},
		{"  ", "", "", "--selector is required"},
		{"app=", "map[app:]", "[]", ""},
		{"app=pbx,", "", "", "--selector"},
		{"a b", "", "", "--selector"},
		{"app>3", "", "", "--selector"},
		{"app=" + strings.Repeat("x", 64), "", "", "--selector"},
	}
	for _, tt := range tests {
		ls, err := Values{Selector: tt.in}.LabelSelector()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		var exprs []string
		for _, e := range ls.MatchExpressions {
			exprs = append(exprs, "{"+e.Key+" "+string(e.Operator)+" ["+strings.Join(e.Values, " ")+"]}")
		}
		if got := fmt.Sprint(ls.MatchLabels); got != tt.labels && !(got == "map[]" && tt.labels == "") {
			t.Errorf("%q: matchLabels %s, want %s", tt.in, got, tt.labels)
		}
		if got := "[" + strings.Join(exprs, " ") + "]"; got != tt.exprs {
			t.Errorf("%q: matchExpressions %s, want %s", tt.in, got, tt.exprs)
		}
	}
}

// TestNamesAndValues checks namespace, policy name and label value rules.
func TestNamesAndValues(t *testing.T) {
	for ns, ok := range map[string]bool{"": true, "voip": true, "voip-1": true, "VoIP": false, "a.b": false, strings.Repeat("a", 64): false} {
		if err := (Values{Namespace: ns}).CheckNamespace(); (err == nil) != ok {
			t.Errorf("namespace %q: %v", ns, err)
		}
	}
	if n, err := PolicyName("tw-solutions"); err != nil || n != "portolan-tw-solutions" {
		t.Errorf("PolicyName: %q %v", n, err)
	}
	if _, err := PolicyName(strings.Repeat("a", 250)); err == nil {
		t.Error("a 259-character name passed")
	}
	for in, want := range map[string]string{"starleaf": "starleaf", "a b/c": "a-b-c", "-x-": "x", strings.Repeat("y", 70): strings.Repeat("y", 63)} {
		if got := LabelValue(in); got != want {
			t.Errorf("LabelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLabelSelector feeds --selector values to the parser: it must not
// panic, its errors are one line, and what it accepts is what
// metav1.ParseToLabelSelector makes of the same text, decoded strictly
// into the API's type and taken back by the API.
func FuzzLabelSelector(f *testing.F) {
	for _, s := range []string{"app=pbx", "app=pbx,tier in (sip,media)", "!a", "a notin (b)", "x==y", ",", "a=(", "a in ()", "a!=b", "a>1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := Values{Selector: s}.LabelSelector()
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n") {
				t.Errorf("error of two lines: %q", err)
			}
			return
		}
		data, err := json.Marshal(ls)
		if err != nil {
			t.Fatal(err)
		}
		var api metav1.LabelSelector
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&api); err != nil {
			t.Fatalf("%s does not decode into metav1.LabelSelector: %v", data, err)
		}
		if _, err := metav1.LabelSelectorAsSelector(&api); err != nil {
			t.Errorf("%q accepted as %s, which the API refuses: %v", s, data, err)
		}
		ref, err := metav1.ParseToLabelSelector(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("%q accepted, but metav1 refuses it: %v", s, err)
		}
		if len(ref.MatchLabels) == 0 {
			ref.MatchLabels = nil
		}
		if len(ref.MatchExpressions) == 0 {
			ref.MatchExpressions = nil
		}
		want, _ := json.Marshal(ref)
		if !bytes.Equal(data, want) {
			t.Errorf("%q: %s, metav1 says %s", s, data, want)
		}
	})
}
