package ufw_test

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/portolan/portolan/target/targettest"
)

// ufwCommand is a rule command of the script.
var ufwCommand = regexp.MustCompile(`^ufw (route allow|allow (in|out)) .* app portolan-[a-z0-9-]+ comment '[a-z0-9-]+/[a-z0-9-]+ [^',]+\.txt:[0-9]+'$`)

// TestSyntax runs every script of the syntax matrix through the real ufw
// (each in a ufw configuration and network namespace of its own, ufw
// inactive: ufw parses the profiles and every command and stores the
// rules) and reads the stored rules back: they must be the plan's. A
// --chain-only script is the standalone one without the ufw default
// commands.
func TestSyntax(t *testing.T) {
	matrix := targettest.SyntaxMatrix(t)
	standalone := map[string]string{}
	for _, m := range matrix {
		if !strings.HasSuffix(m.Name, "/chain-only") && !strings.Contains(m.Name, "/chain-only/") {
			s, _ := generate(t, m.In)
			standalone[m.Name] = s
		}
	}
	var mu sync.Mutex
	total, inputs := 0, 0
	t.Run("group", func(t *testing.T) {
		for _, m := range matrix {
			script, res := generate(t, m.In)
			var cmds []string
			defaults := 0
			for _, l := range strings.Split(script, "\n") {
				switch {
				case strings.HasPrefix(l, "ufw default "):
					defaults++
				case strings.HasPrefix(l, "ufw "):
					cmds = append(cmds, l)
					if !ufwCommand.MatchString(l) {
						t.Errorf("%s: a command without its flow's comment: %s", m.Name, l)
					}
				}
			}
			if len(cmds) != res.Stats.Rules {
				t.Errorf("%s: %d commands, stats say %d", m.Name, len(cmds), res.Stats.Rules)
			}
			if base := strings.Replace(m.Name, "/chain-only", "", 1); base != m.Name {
				if defaults != 0 {
					t.Errorf("%s: --chain-only sets ufw defaults", m.Name)
				}
				var want []string
				for _, l := range strings.Split(standalone[base], "\n") {
					if strings.HasPrefix(l, "ufw ") && !strings.HasPrefix(l, "ufw default ") {
						want = append(want, l)
					}
				}
				if !slices.Equal(cmds, want) {
					t.Errorf("%s: the commands differ from the standalone script's", m.Name)
				}
				continue
			}
			if defaults == 0 {
				t.Errorf("%s: no ufw default command", m.Name)
			}
			t.Run(m.Name, func(t *testing.T) {
				t.Parallel()
				r := newRoot(t)
				out := r.apply(t, nil, script)
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, "ERROR") || strings.Contains(l, "Skipping '") || strings.Contains(l, "Invalid") {
						t.Errorf("ufw: %s", l)
					}
				}
				got, plan := readOpens(t, r, script), planOpens(m.In)
				if g, p := got.lines(), plan.lines(); !slices.Equal(g, p) {
					t.Errorf("ufw opens\n  %s\nthe plan\n  %s", strings.Join(g, "\n  "), strings.Join(p, "\n  "))
				}
				mu.Lock()
				total += len(cmds)
				inputs++
				mu.Unlock()
			})
		}
	})
	t.Logf("%d inputs (and as many --chain-only), %d ufw commands, all accepted by ufw and read back as the plan", inputs, total)
}
