package reflector

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/portolan/portolan/model"
)

// Info is what a reflector tells a client about itself, in the body of a
// TypeInfoReply: a few "key value" lines.
type Info struct {
	Version  string
	UDP      model.PortSet // ports it answers on
	TCP      model.PortSet
	Rate     float64       // replies per second it sends one source
	Burst    int           // and the burst it allows
	MaxDelay time.Duration // longest delay a TypeDelay may ask
	// Observed is the address the info request came from.
	Observed netip.AddrPort
}

// Encode writes the info text.
func (i Info) Encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "version %s\n", i.Version)
	fmt.Fprintf(&b, "udp %s\n", portsText(i.UDP))
	fmt.Fprintf(&b, "tcp %s\n", portsText(i.TCP))
	fmt.Fprintf(&b, "rate %g\n", i.Rate)
	fmt.Fprintf(&b, "burst %d\n", i.Burst)
	fmt.Fprintf(&b, "max-delay %dms\n", i.MaxDelay.Milliseconds())
	if i.Observed.IsValid() {
		fmt.Fprintf(&b, "source %s\n", i.Observed)
	}
	return b.Bytes()
}

func portsText(s model.PortSet) string {
	if s.Empty() {
		return "-"
	}
	return s.String()
}

// ParseInfo reads an info text; unknown keys are ignored so that a newer
// reflector can say more.
func ParseInfo(b []byte) (Info, error) {
	var i Info
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		key, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return i, fmt.Errorf("info line %d: %q has no value", n, sc.Text())
		}
		var err error
		switch key {
		case "version":
			i.Version = val
		case "udp", "tcp":
			var s model.PortSet
			if val != "-" {
				var rs []model.PortRange
				rs, err = model.ParsePortList(val)
				s = model.NewPortSet(rs...)
			}
			if key == "udp" {
				i.UDP = s
			} else {
				i.TCP = s
			}
		case "rate":
			i.Rate, err = strconv.ParseFloat(val, 64)
		case "burst":
			i.Burst, err = strconv.Atoi(val)
		case "max-delay":
			i.MaxDelay, err = time.ParseDuration(val)
		case "source":
			i.Observed, err = netip.ParseAddrPort(val)
		}
		if err != nil {
			return i, fmt.Errorf("info line %d (%s): %v", n, key, err)
		}
	}
	return i, sc.Err()
}
