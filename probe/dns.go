package probe

import (
	"fmt"
	"strings"
	"time"
)

// dnsResult reports one name: its addresses, where they came from and for
// how long they hold, or why it has none. The names were resolved while
// planning (resolve.Concretize, with --hosts pins before DNS); this
// prober reads the answers.
func dnsResult(n nameUse) Result {
	r := Result{
		Check: CheckDNS, Service: n.service, Flow: strings.Join(n.flows, ","),
		Required: n.required, Target: n.name,
	}
	if !n.resolved {
		r.Status = Fail
		r.Summary = "does not resolve"
		if n.err != "" {
			r.Summary += ": " + n.err
		}
		return r
	}
	for _, a := range n.answer.Addrs {
		r.Addrs = append(r.Addrs, a.String())
	}
	r.Status = OK
	r.Summary = strings.Join(r.Addrs, ", ")
	src := n.answer.Source
	if n.answer.TTL > 0 {
		src += fmt.Sprintf(", TTL %s", n.answer.TTL.Round(time.Second))
	}
	if src != "" {
		r.Summary += " (" + src + ")"
	}
	return r
}
