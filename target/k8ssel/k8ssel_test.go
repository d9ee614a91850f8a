package k8ssel

import (
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
// panic, and a selector it accepts must be one the API takes back.
func FuzzLabelSelector(f *testing.F) {
	for _, s := range []string{"app=pbx", "app=pbx,tier in (sip,media)", "!a", "a notin (b)", "x==y", ",", "a=(", "a in ()"} {
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
		if _, err := metav1.LabelSelectorAsSelector(ls); err != nil {
			t.Errorf("%q accepted as %+v, which the API refuses: %v", s, ls, err)
		}
	})
}
