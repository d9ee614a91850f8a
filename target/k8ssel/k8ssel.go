// Package k8ssel holds what the Kubernetes targets (kubernetes, cilium)
// share: the --selector and --namespace flags, parsed once, read by both,
// and the name and label rules of Kubernetes objects.
package k8ssel

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/portolan/portolan/internal/textsafe"
)

// Values are the flags' values. Both targets register the same flags
// bound to the same Values (Shared), so whichever --target is chosen
// reads what the user gave.
type Values struct {
	Selector  string
	Namespace string
}

// Shared is the one set of values both targets read.
var Shared Values

// Flags adds --selector and --namespace to fs, bound to Shared.
func Flags(fs *pflag.FlagSet) {
	fs.StringVar(&Shared.Selector, "selector", "", "the pods the policies apply to, as a label selector: app=pbx,tier=sip or 'tier in (sip,media)' (required)")
	fs.StringVar(&Shared.Namespace, "namespace", "", "the namespace of the policies (default: none written, so kubectl applies them to its current namespace)")
}

// LabelSelector is the API's label selector (metav1.LabelSelector),
// written here so that the binary does without apimachinery's runtime;
// the tests decode it strictly into the API's own type.
type LabelSelector struct {
	MatchLabels      map[string]string `json:"matchLabels,omitempty"`
	MatchExpressions []Requirement     `json:"matchExpressions,omitempty"`
}

// Requirement is one matchExpressions entry: In, NotIn, Exists or
// DoesNotExist.
type Requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// ObjectMeta is the part of the API's object metadata the targets write.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// LabelSelector parses the --selector value with apimachinery's parser
// (which checks keys and values) into a LabelSelector, as
// metav1.ParseToLabelSelector does: equality requirements become
// matchLabels, the others (in, notin, exists, !key) matchExpressions. An
// empty selector is an error: it would select every pod of the namespace
// and shut them all in.
func (v Values) LabelSelector() (*LabelSelector, error) {
	s := strings.TrimSpace(v.Selector)
	if s == "" {
		return nil, fmt.Errorf("--selector is required: the labels of the pods the policies apply to, e.g. --selector app=pbx (an empty selector would take in every pod of the namespace)")
	}
	reqs, err := labels.ParseToRequirements(s)
	if err != nil {
		// The parser's message quotes the input as it is: escape it.
		return nil, fmt.Errorf("--selector %q: %s", s, textsafe.Terminal(err.Error()))
	}
	ls := &LabelSelector{}
	for _, r := range reqs {
		var op string
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals:
			vals := r.Values().List()
			if len(vals) != 1 {
				return nil, fmt.Errorf("--selector %q: %s: = takes one value", s, r.Key())
			}
			if ls.MatchLabels == nil {
				ls.MatchLabels = map[string]string{}
			}
			ls.MatchLabels[r.Key()] = vals[0]
			continue
		case selection.In:
			op = "In"
		case selection.NotIn:
			op = "NotIn"
		case selection.Exists:
			op = "Exists"
		case selection.DoesNotExist:
			op = "DoesNotExist"
		default:
			return nil, fmt.Errorf("--selector %q: %q is not an operator of label selectors (=, ==, in, notin, key, !key)", s, textsafe.Terminal(string(r.Operator())))
		}
		ls.MatchExpressions = append(ls.MatchExpressions, Requirement{Key: r.Key(), Operator: op, Values: r.Values().List()})
	}
	if ls.MatchLabels == nil && ls.MatchExpressions == nil {
		return nil, fmt.Errorf("--selector %q selects every pod", s)
	}
	return ls, nil
}

// CheckNamespace checks --namespace: "" or a DNS-1123 label.
func (v Values) CheckNamespace() error {
	if v.Namespace == "" {
		return nil
	}
	if errs := validation.IsDNS1123Label(v.Namespace); len(errs) > 0 {
		return fmt.Errorf("--namespace %q: %s", v.Namespace, strings.Join(errs, "; "))
	}
	return nil
}

// PolicyName is the stable name of a service's policy: portolan-SLUG,
// checked as a DNS-1123 subdomain (at most 253 characters).
func PolicyName(slug string) (string, error) {
	name := "portolan-" + slug
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("policy name %q: %s", name, strings.Join(errs, "; "))
	}
	return name, nil
}

// LabelValue makes s a valid label value (at most 63 characters of
// letters, digits, '-', '_' and '.', starting and ending with a letter or
// digit), or "" when nothing of it fits.
func LabelValue(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > validation.LabelValueMaxLength {
		out = out[:validation.LabelValueMaxLength]
	}
	return strings.Trim(out, "-_.")
}
