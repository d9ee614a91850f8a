package resolve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/internal/textsafe"
)

// Hosts pins names to addresses, read from a file in hosts(5) format:
// "ADDRESS NAME [ALIAS…]" per line, "#" starts a comment. It serves
// air-gapped generation and tests, where no DNS is asked.
type Hosts struct {
	file  string
	addrs map[string][]netip.Addr
}

// MaxHostsSize bounds what ParseHosts reads.
const MaxHostsSize = 16 << 20

// LoadHosts reads a hosts file: a regular file (symlinks followed) or
// standard input when path is "-"; devices, FIFOs and directories are
// refused, and no more than MaxHostsSize bytes are read.
func LoadHosts(path string) (*Hosts, error) {
	data, err := safeio.ReadFile(path, MaxHostsSize, nil)
	if err != nil {
		return nil, err
	}
	if path == safeio.Stdin {
		path = "stdin"
	}
	return ParseHosts(path, bytes.NewReader(data))
}

// ParseHosts parses hosts-file text; file names it in errors, which give
// the line and the field at fault.
func ParseHosts(file string, r io.Reader) (*Hosts, error) {
	h := &Hosts{file: file, addrs: map[string][]netip.Addr{}}
	file = textsafe.Terminal(file) // what errors show
	data, err := safeio.ReadAll(r, file, MaxHostsSize)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), MaxHostsSize)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		a, err := netip.ParseAddr(fields[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: address %q: not an IPv4 or IPv6 address", file, n, fields[0])
		}
		if a.Zone() != "" {
			return nil, fmt.Errorf("%s:%d: address %q: zones are not allowed", file, n, fields[0])
		}
		a = a.Unmap() // ::ffff:192.0.2.1 is 192.0.2.1, an IPv4 host
		if len(fields) == 1 {
			return nil, fmt.Errorf("%s:%d: address %s has no name after it", file, n, fields[0])
		}
		for _, name := range fields[1:] {
			name = strings.ToLower(strings.TrimSuffix(name, "."))
			if name == "" || strings.ContainsAny(name, "/*{}") {
				return nil, fmt.Errorf("%s:%d: name %q: not a host name", file, n, name)
			}
			if !containsAddr(h.addrs[name], a) {
				h.addrs[name] = append(h.addrs[name], a)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return h, nil
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// Len is how many names the file pins.
func (h *Hosts) Len() int { return len(h.addrs) }

// Lookup returns the pinned addresses of name; a pinned name never expires.
func (h *Hosts) Lookup(_ context.Context, name string) (Answer, error) {
	as, ok := h.addrs[strings.ToLower(strings.TrimSuffix(name, "."))]
	if !ok {
		return Answer{}, &NotFoundError{Name: name, Where: "hosts file " + textsafe.Terminal(h.file)}
	}
	return Answer{Addrs: append([]netip.Addr(nil), as...), Source: "hosts:" + h.file, At: time.Now()}, nil
}
