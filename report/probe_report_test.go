package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/probe"
)

func sampleProbeReport() *probe.Report {
	r := &probe.Report{
		Services: []string{"tw-solutions"}, Checks: []string{"sip-alg", "udp"}, Reflector: "198.51.100.10:7478",
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Elapsed: probe.Millis(1500 * time.Millisecond),
		Results: []probe.Result{
			{Check: "sip-alg", Service: "tw-solutions", Constraint: "sip-alg-off", Required: true, Target: "udp/5060",
				Via: "reflector 198.51.100.10:7478", Status: probe.Fail, Summary: "SIP ALG detected: rewrote Via",
				Details: []string{`Via: "a" → "b"`},
				SIP:     &probe.SIPInfo{Port: 5060, ALG: true, Changes: []probe.SIPChange{{Where: "Via", Sent: "<script>alert(1)</script>", Received: "198.51.100.1"}}}},
			{Check: "udp", Service: "tw-solutions", Flow: "rtp", Required: true, Target: "udp 10000-60000", Status: probe.OK, Summary: "all 1000 ports open",
				Ports: &probe.PortReport{Proto: "udp", Probed: 1000, Open: []string{"10000-10999"}, Blocked: []string{}}},
			{Check: "udp", Service: "tw-solutions", Flow: "ntp", Target: "udp 123", Status: probe.Skip, Summary: "not probed: the reflector serves none of these ports"},
		},
	}
	r.Counts = map[probe.Status]int{probe.Fail: 1, probe.OK: 1, probe.Skip: 1}
	r.Failures = 1
	return r
}

func TestProbeTable(t *testing.T) {
	var b bytes.Buffer
	if err := ProbeTable(&b, sampleProbeReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"STATUS  CHECK", "FAIL    sip-alg", "[sip-alg-off]", "reflector 198.51.100.10:7478",
		"Details", `Via: "a" → "b"`,
		"FAILED: 1 required check failed: sip-alg tw-solutions/sip-alg-off (1 fail, 1 ok, 1 not probed)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	ok := sampleProbeReport()
	ok.Results = ok.Results[1:]
	ok.OK, ok.Failures = true, 0
	ok.Counts = map[probe.Status]int{probe.OK: 1, probe.Skip: 1}
	if v := Verdict(ok); v != "OK: every required check passed (1 ok, 1 not probed)" {
		t.Errorf("verdict %q", v)
	}
}

func TestProbeHTML(t *testing.T) {
	var b bytes.Buffer
	if err := ProbeHTML(&b, sampleProbeReport()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<script>alert") {
		t.Error("what arrived is written unescaped")
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "<style>", `class="pill fail"`, "10000-10999", "FAILED: 1 required check failed"} {
		if !strings.Contains(page, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if re := regexp.MustCompile(`(?i)<(script|link|img|iframe)|(src|href)\s*=|url\(|@import`); re.MatchString(page) {
		t.Errorf("html refers to something outside itself: %s", re.FindString(page))
	}
}
