// Package reflector is the server a probe talks to for what public vendor
// hosts cannot answer: which UDP ports of a range get through, whether a
// SIP ALG rewrites what crosses the NAT, how long a UDP NAT binding lives.
//
// It answers only messages that prove the shared token (HMAC-SHA256 over a
// fresh nonce, a timestamp and the message), never sends more bytes than
// the request it answers carried, rate-limits every source and bounds all
// it allocates. The wire format and the SIP codec in this package are
// shared with the probe's client side.
//
// # Wire format
//
// Every message is one UDP datagram (over TCP: a 2-byte big-endian length,
// then the message):
//
//	 0  magic   "PTL1"
//	 4  type    1 byte (TypeInfo…)
//	 5  flags   1 byte, 0
//	 6  length  2 bytes: length of the body
//	 8  nonce   16 bytes, random, chosen by the client; replies repeat it
//	24  time    8 bytes: Unix milliseconds when the request was sent
//	32  body    length bytes, by type
//	    padding zeros: the room the replies may use
//	-32 mac     HMAC-SHA256(token, every byte before it)
//
// A request's padding is how a client pays for its replies: the server
// sends replies to one request only while their bytes add up to no more
// than the request's.
package reflector

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Magic starts every message.
const Magic = "PTL1"

// DefaultPort is the reflector's control port when none is given.
const DefaultPort = 7478

// Sizes of the fixed parts of a message.
const (
	HeaderLen = 32
	MACLen    = sha256.Size
	// MinLen is the smallest well-formed message: header and MAC.
	MinLen = HeaderLen + MACLen
	// MaxLen is the largest message either side accepts.
	MaxLen = 1400
)

// Type says what a message asks or answers.
type Type uint8

// Message types. Requests are odd, their replies even.
const (
	// TypeInfo asks what the reflector serves; TypeInfoReply answers with
	// an Info text.
	TypeInfo      Type = 1
	TypeInfoReply Type = 2
	// TypeEcho asks for one reply, at once, from the port it reached.
	TypeEcho      Type = 3
	TypeEchoReply Type = 4
	// TypeDelay asks for an acknowledgement at once and a second reply
	// after the delay in its body (4 bytes, milliseconds).
	TypeDelay      Type = 5
	TypeDelayAck   Type = 6
	TypeDelayReply Type = 8
)

func (t Type) String() string {
	switch t {
	case TypeInfo:
		return "info"
	case TypeInfoReply:
		return "info-reply"
	case TypeEcho:
		return "echo"
	case TypeEchoReply:
		return "echo-reply"
	case TypeDelay:
		return "delay"
	case TypeDelayAck:
		return "delay-ack"
	case TypeDelayReply:
		return "delay-reply"
	}
	return fmt.Sprintf("type-%d", uint8(t))
}

// Message is a decoded message.
type Message struct {
	Type  Type
	Nonce [16]byte
	Time  time.Time
	Body  []byte
	// Size is the length of the whole message on the wire.
	Size int
}

// Errors of Decode.
var (
	ErrNotReflector = errors.New("not a reflector message")
	ErrMalformed    = errors.New("malformed reflector message")
	ErrBadMAC       = errors.New("reflector message does not prove the token")
)

// NewNonce returns a random nonce.
func NewNonce() [16]byte {
	var n [16]byte
	rand.Read(n[:])
	return n
}

// Encode builds a message of type t with body, padded with zeros to at
// least size bytes in all, and signs it with token.
func Encode(token []byte, t Type, nonce [16]byte, at time.Time, body []byte, size int) []byte {
	n := HeaderLen + len(body) + MACLen
	if size > n {
		n = size
	}
	b := make([]byte, n)
	copy(b, Magic)
	b[4] = byte(t)
	binary.BigEndian.PutUint16(b[6:], uint16(len(body)))
	copy(b[8:24], nonce[:])
	binary.BigEndian.PutUint64(b[24:], uint64(at.UnixMilli()))
	copy(b[HeaderLen:], body)
	m := hmac.New(sha256.New, token)
	m.Write(b[:n-MACLen])
	m.Sum(b[:n-MACLen])
	return b
}

// IsMessage reports whether b starts like a reflector message.
func IsMessage(b []byte) bool { return len(b) >= 4 && string(b[:4]) == Magic }

// Decode checks b's shape and MAC and returns the message.
func Decode(token []byte, b []byte) (Message, error) {
	if !IsMessage(b) {
		return Message{}, ErrNotReflector
	}
	if len(b) < MinLen || len(b) > MaxLen || b[5] != 0 {
		return Message{}, ErrMalformed
	}
	blen := int(binary.BigEndian.Uint16(b[6:]))
	if HeaderLen+blen+MACLen > len(b) {
		return Message{}, ErrMalformed
	}
	m := hmac.New(sha256.New, token)
	m.Write(b[:len(b)-MACLen])
	if !hmac.Equal(m.Sum(nil), b[len(b)-MACLen:]) {
		return Message{}, ErrBadMAC
	}
	msg := Message{Type: Type(b[4]), Body: b[HeaderLen : HeaderLen+blen], Size: len(b)}
	copy(msg.Nonce[:], b[8:24])
	msg.Time = time.UnixMilli(int64(binary.BigEndian.Uint64(b[24:])))
	return msg, nil
}

// Observed is what the reflector saw of a request: the source address and
// port (after any NAT on the way) and its own port the request reached.
type Observed struct {
	Source netip.AddrPort
	Port   uint16
}

// ObservedLen is the encoded size of an Observed.
const ObservedLen = 1 + 16 + 2 + 2

// AppendObserved appends o in its wire form: family (4 or 6), the address
// in 16 bytes, the source port, the local port.
func AppendObserved(b []byte, o Observed) []byte {
	a := o.Source.Addr()
	fam := byte(6)
	if a.Unmap().Is4() {
		fam = 4
	}
	b = append(b, fam)
	a16 := a.As16()
	b = append(b, a16[:]...)
	b = binary.BigEndian.AppendUint16(b, o.Source.Port())
	return binary.BigEndian.AppendUint16(b, o.Port)
}

// ParseObserved reads an Observed from the start of b.
func ParseObserved(b []byte) (Observed, error) {
	if len(b) < ObservedLen || (b[0] != 4 && b[0] != 6) {
		return Observed{}, ErrMalformed
	}
	a := netip.AddrFrom16([16]byte(b[1:17]))
	if b[0] == 4 {
		a = a.Unmap()
	}
	return Observed{
		Source: netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[17:])),
		Port:   binary.BigEndian.Uint16(b[19:]),
	}, nil
}

// Reply sizes, so that a client can pad its requests to pay for them.
const (
	EchoReplyLen  = HeaderLen + ObservedLen + MACLen
	DelayReplyLen = HeaderLen + ObservedLen + 4 + MACLen
	// EchoRequestLen pays for one echo reply.
	EchoRequestLen = EchoReplyLen
	// DelayRequestLen pays for the acknowledgement and the delayed reply.
	DelayRequestLen = 2 * DelayReplyLen
	// InfoRequestLen leaves room for a long Info text.
	InfoRequestLen = 1024
)

// Every request's body starts with the port it is aimed at (2 bytes):
// the reflector answers it on that port only, so that a captured request
// cannot be replayed to another port (another shard, with nonces of its
// own).

// RequestBody is the body of a TypeInfo or TypeEcho request to port.
func RequestBody(port uint16) []byte { return binary.BigEndian.AppendUint16(nil, port) }

// AimedPort reads the port a request's body says it is aimed at.
func AimedPort(body []byte) (uint16, error) {
	if len(body) < 2 {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint16(body), nil
}

// DelayBody is the body of a TypeDelay request to port: the port, then
// the delay in milliseconds (4 bytes).
func DelayBody(port uint16, d time.Duration) []byte {
	return binary.BigEndian.AppendUint32(RequestBody(port), uint32(d/time.Millisecond))
}

// ParseDelay reads the delay of a TypeDelay request's body.
func ParseDelay(body []byte) (time.Duration, error) {
	if len(body) < 6 {
		return 0, ErrMalformed
	}
	return time.Duration(binary.BigEndian.Uint32(body[2:])) * time.Millisecond, nil
}
