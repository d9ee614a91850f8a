package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
)

// Every name the five services reach with every feature on, pinned to
// documentation addresses.
const allPins = `198.51.100.20 acme.call.sl
2001:db8:2::20 acme.call.sl
198.51.100.21 config.starleaf.com
2001:db8:2::21 config.starleaf.com
198.51.100.22 license.starface.de
198.51.100.23 push.starface.de
2001:db8:2::23 push.starface.de
198.51.100.24 sip.librestream.com
198.51.100.25 siptrunk.de
198.51.100.26 starface-cdn.de
198.51.100.27 update.starface.de
198.51.100.28 video.example.com
2001:db8:2::28 video.example.com
198.51.100.29 www.starface-cdn.de
`

// disjointFlows selects services whose flows all go to named hosts or
// networks, so that the rules generated for them do not overlap: each
// packet has exactly one rule that accepts it.
func disjointFlows(pins string) []string {
	return []string{"starleaf", "pexip", "onsight", "--feature", "sbc", "--feature", "h323",
		"--no-feature", "p2p", "--no-feature", "push", "--feature", "legacy", "--feature", "china",
		"--param", "company=acme", "--param", "service_network=203.0.113.0/24", "--param", "sbc_address=192.0.2.20",
		"--param", "sbc_media_ports=36000-59999", "--param", "h323_ports=1719-1720", "--param", "h323_media_ports=20000-29999",
		"--hosts", pins, "--no-resolve", "--lan-if", "lan0", "--wan-if", "wan0", "--lan", "192.0.2.0/24,2001:db8:1::/64"}
}

// allFlows selects all five services with every feature on, except the
// STARFACE scenarios that forward TLS SIP (5061) from anywhere to the PBX:
// with them the Pexip SBC's forward of 5061 cannot work on the same
// gateway, which the audit rightly reports.
func allFlows(pins string) []string {
	return []string{"all", "--all-features", "--no-feature", "starface:scenario-2", "--no-feature", "starface:scenario-3",
		"--param", "company=acme", "--param", "pbx_address=192.0.2.10", "--param", "sip_provider=198.51.100.0/25",
		"--param", "pbx_peers=198.51.100.200", "--param", "service_network=203.0.113.0/24", "--param", "sbc_address=192.0.2.20",
		"--param", "sbc_media_ports=36000-59999", "--param", "h323_ports=1719-1720", "--param", "h323_media_ports=20000-29999",
		"--param", "custom_domains=video.example.com",
		"--hosts", pins, "--no-resolve", "--lan-if", "lan0", "--wan-if", "wan0", "--lan", "192.0.2.0/24,2001:db8:1::/64"}
}

type ruleRef struct {
	Chain   string `json:"chain"`
	Handle  int64  `json:"handle"`
	Line    int    `json:"line"`
	Policy  bool   `json:"policy"`
	Verdict string `json:"verdict"`
}

func (r ruleRef) key() string { return fmt.Sprintf("%s|%d|%d", r.Chain, r.Handle, r.Line) }

type auditReport struct {
	OK    bool `json:"ok"`
	Flows []struct {
		Service   string `json:"service"`
		Flow      string `json:"flow"`
		Direction string `json:"direction"`
		Verdict   string `json:"verdict"`
		Summary   string `json:"summary"`
		Parts     []struct {
			Result  string    `json:"result"`
			Trail   []ruleRef `json:"trail"`
			Replies *ruleRef  `json:"replies"`
			Later   *ruleRef  `json:"later"`
		} `json:"parts"`
		Shadowed []struct {
			Rule ruleRef  `json:"rule"`
			By   *ruleRef `json:"by"`
		} `json:"shadowed"`
	} `json:"flows"`
}

func auditJSON(t *testing.T, ruleset string, args []string) (auditReport, int) {
	t.Helper()
	out, errs, code := portolan(append(append([]string{"audit"}, args...), "--ruleset", ruleset, "--output", "json")...)
	if code == 2 {
		t.Fatalf("audit: %s", errs)
	}
	var rep auditReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("audit output: %v", err)
	}
	return rep, code
}

// served maps each rule that accepted or forwarded a flow's first packets
// to the flows it did it for.
func served(rep auditReport) map[string][]string {
	out := map[string][]string{}
	for _, f := range rep.Flows {
		seen := map[string]bool{}
		for _, p := range f.Parts {
			if p.Result != "accepted" {
				continue
			}
			for _, s := range p.Trail {
				if s.Policy {
					continue
				}
				k := s.key()
				if !seen[k] {
					seen[k] = true
					out[k] = append(out[k], f.Service+"/"+f.Flow)
				}
			}
		}
	}
	return out
}

func notAllowed(rep auditReport) []string {
	var out []string
	for _, f := range rep.Flows {
		if f.Verdict != "allowed" && f.Verdict != "skipped" {
			out = append(out, f.Service+"/"+f.Flow)
		}
	}
	sort.Strings(out)
	return out
}

// TestAuditOfGeneratedRules: what portolan rules writes, loaded into a
// real kernel and read back (nft -j list ruleset; iptables-save and
// ip6tables-save), audits as fully allowed; and taking out any one rule
// that accepted or forwarded flows makes exactly those flows partial or
// blocked. With flows to any host (all five services) the rules overlap:
// a packet whose rule is gone may meet a broader one, so there only the
// flows the rule served may fail, and at least some do.
func TestAuditOfGeneratedRules(t *testing.T) {
	lab := netlab.New(t)
	dir := t.TempDir()
	pins := filepath.Join(dir, "pins")
	if err := os.WriteFile(pins, []byte(allPins), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		disjoint bool
	}{
		{"disjoint", disjointFlows(pins), true},
		{"all", allFlows(pins), false},
	} {
		for _, target := range []string{"nftables", "iptables"} {
			args := tc.args
			t.Run(tc.name+"/"+target, func(t *testing.T) {
				if _, err := lab.Router.Run("nft", "flush", "ruleset"); err != nil {
					t.Fatal(err)
				}
				var dump []byte
				if target == "nftables" {
					text, errs, code := portolan(append([]string{"rules", "--target", "nftables"}, args...)...)
					if code != 0 {
						t.Fatalf("rules: %s", errs)
					}
					if err := lab.Router.Nft(text); err != nil {
						t.Fatal(err)
					}
					js, err := lab.Router.Run("nft", "-j", "list", "ruleset")
					if err != nil {
						t.Fatal(err)
					}
					dump = []byte(js)
				} else {
					for _, tg := range []string{"iptables", "ip6tables"} {
						text, errs, code := portolan(append([]string{"rules", "--target", tg}, args...)...)
						if code != 0 {
							t.Fatalf("rules --target %s: %s", tg, errs)
						}
						if _, err := lab.Router.RunInput([]byte(text), tg+"-restore", "--noflush"); err != nil {
							t.Fatal(err)
						}
						save, err := lab.Router.Run(tg + "-save")
						if err != nil {
							t.Fatal(err)
						}
						dump = append(dump, save...)
					}
				}
				file := filepath.Join(dir, target+".dump")
				writeDump(t, file, dump)
				rep, code := auditJSON(t, file, args)
				if code != 0 || !rep.OK || len(notAllowed(rep)) > 0 {
					t.Fatalf("the generated rules do not audit as allowed: exit %d, not allowed: %v", code, notAllowed(rep))
				}
				srv := served(rep)
				if len(srv) < 20 {
					t.Fatalf("only %d rules serve flows", len(srv))
				}
				cut, failed := 0, 0
				keys := make([]string, 0, len(srv))
				for k := range srv {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					text, err := without(target, dump, k)
					if err != nil {
						t.Fatalf("%s: %v", k, err)
					}
					f := filepath.Join(dir, "cut")
					writeDump(t, f, text)
					got, _ := auditJSON(t, f, args)
					want := append([]string(nil), srv[k]...)
					sort.Strings(want)
					fails := notAllowed(got)
					if tc.disjoint {
						if strings.Join(fails, " ") != strings.Join(want, " ") {
							t.Errorf("without %s: not allowed %v, want exactly %v", k, fails, want)
						}
					} else {
						for _, fl := range fails {
							if !slices.Contains(want, fl) {
								t.Errorf("without %s: %s fails, but the rule did not serve it", k, fl)
							}
						}
					}
					cut++
					if len(fails) > 0 {
						failed++
					}
				}
				if failed < cut/2 || (tc.disjoint && failed != cut) {
					t.Errorf("taking out %d rules made flows fail only %d times", cut, failed)
				}
				// Without the conntrack rule the replies of outbound flows no
				// longer come back; only flows whose replies it let through
				// fail (inbound flows' replies may meet an outbound accept).
				byEst := map[string]bool{}
				for _, fl := range rep.Flows {
					for _, p := range fl.Parts {
						for _, r := range []*ruleRef{p.Replies, p.Later} {
							if r != nil && !r.Policy {
								byEst[fl.Service+"/"+fl.Flow] = true
							}
						}
					}
				}
				cutEst, err := withoutEstablished(target, dump)
				if err != nil {
					t.Fatal(err)
				}
				f := filepath.Join(dir, "cut")
				writeDump(t, f, cutEst)
				got, _ := auditJSON(t, f, args)
				outbound := 0
				for _, fl := range got.Flows {
					name := fl.Service + "/" + fl.Flow
					if fl.Verdict != "allowed" && fl.Verdict != "skipped" && !byEst[name] {
						t.Errorf("without ct state established: %s fails, yet its replies were not let through by a rule", name)
					}
					if fl.Direction == "outbound" && fl.Verdict != "skipped" {
						outbound++
						if fl.Verdict == "allowed" {
							t.Errorf("without ct state established: outbound %s is allowed", name)
						}
					}
				}
				allowed := 0
				for _, fl := range rep.Flows {
					if fl.Verdict == "allowed" {
						allowed++
					}
				}
				t.Logf("%s %s: %d flows allowed; %d rules taken out one by one, %d of them made flows fail; %d outbound flows fail without ct state established",
					tc.name, target, allowed, cut, failed, outbound)
			})
		}
	}
}

func writeDump(t *testing.T, file string, data []byte) {
	t.Helper()
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// without removes one rule, named "chain|handle|line", from a dump.
func without(target string, dump []byte, key string) ([]byte, error) {
	parts := strings.Split(key, "|")
	if target == "iptables" {
		var line int
		fmt.Sscan(parts[2], &line)
		lines := strings.Split(string(dump), "\n")
		if line < 1 || line > len(lines) || !strings.HasPrefix(lines[line-1], "-A ") {
			return nil, fmt.Errorf("line %d is not a rule", line)
		}
		return []byte(strings.Join(append(lines[:line-1:line-1], lines[line:]...), "\n")), nil
	}
	var handle int64
	fmt.Sscan(parts[1], &handle)
	return filterNft(dump, func(r map[string]any) bool {
		return fmt.Sprint(r["family"], " ", r["table"], " ", r["chain"]) == parts[0] && int64(r["handle"].(float64)) == handle
	})
}

func withoutEstablished(target string, dump []byte) ([]byte, error) {
	if target == "iptables" {
		var keep []string
		for _, l := range strings.Split(string(dump), "\n") {
			if strings.Contains(l, "--ctstate RELATED,ESTABLISHED") {
				continue
			}
			keep = append(keep, l)
		}
		return []byte(strings.Join(keep, "\n")), nil
	}
	return filterNft(dump, func(r map[string]any) bool {
		b, _ := json.Marshal(r["expr"])
		return strings.Contains(string(b), `"established"`)
	})
}

// filterNft drops the rules of an nft JSON dump that drop says to.
func filterNft(dump []byte, drop func(map[string]any) bool) ([]byte, error) {
	var doc map[string][]map[string]any
	if err := json.Unmarshal(dump, &doc); err != nil {
		return nil, err
	}
	var keep []map[string]any
	n := 0
	for _, o := range doc["nftables"] {
		if r, ok := o["rule"].(map[string]any); ok && drop(r) {
			n++
			continue
		}
		keep = append(keep, o)
	}
	if n == 0 {
		return nil, fmt.Errorf("no rule taken out")
	}
	doc["nftables"] = keep
	return json.Marshal(doc)
}
