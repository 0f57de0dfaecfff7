package witness

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// EtherType is the beacons' EtherType: IEEE 802 Local Experimental
// EtherType 1, reserved for protocols that stay on one network.
const EtherType = 0x88B5

// Beacon frame layout, after the Ethernet header:
//
//	magic "VKW" | version (1) | group (8) | sequence (8, big endian) |
//	name length (1) | node name
//
// Anything after the name (the padding up to Ethernet's 46-byte minimum
// payload) is ignored.
const (
	magic   = "VKW"
	version = 1
	// GroupLen is the length of a group identifier: 64 bits of a hash
	// make an accidental match of two groups on one link negligible.
	GroupLen = 8
	// MaxNameLen bounds the node name: a DNS subdomain (a Kubernetes
	// node name) is at most 253 bytes, and one length byte holds it.
	MaxNameLen = 253
	headerLen  = len(magic) + 1 + GroupLen + 8 + 1
	// MaxPayloadLen is the longest beacon; well below any link's MTU.
	MaxPayloadLen = headerLen + MaxNameLen
)

// Group identifies a group of vipkeepers: nodes that may take over each
// other's addresses.
type Group [GroupLen]byte

// GroupOf is the group identifier of a name (the control-plane Lease's
// namespace/name): the first bytes of its SHA-256.
func GroupOf(name string) Group {
	sum := sha256.Sum256([]byte(name))
	var g Group
	copy(g[:], sum[:])
	return g
}

// Beacon is what one frame says.
type Beacon struct {
	Group Group
	Seq   uint64
	Node  string
}

// Errors of Parse.
var (
	ErrNotBeacon = errors.New("not a vipkeeper beacon")
	ErrVersion   = errors.New("unknown beacon version")
	ErrTruncated = errors.New("truncated beacon")
)

// Marshal encodes b; it fails for an empty or overlong node name.
func (b Beacon) Marshal() ([]byte, error) {
	if b.Node == "" || len(b.Node) > MaxNameLen {
		return nil, fmt.Errorf("node name of %d bytes: want 1 to %d", len(b.Node), MaxNameLen)
	}
	p := make([]byte, 0, headerLen+len(b.Node))
	p = append(p, magic...)
	p = append(p, version)
	p = append(p, b.Group[:]...)
	p = binary.BigEndian.AppendUint64(p, b.Seq)
	p = append(p, byte(len(b.Node)))
	return append(p, b.Node...), nil
}

// Parse decodes a beacon's payload (the frame after its Ethernet header).
func Parse(p []byte) (Beacon, error) {
	if len(p) < len(magic)+1 || !bytes.Equal(p[:len(magic)], []byte(magic)) {
		return Beacon{}, ErrNotBeacon
	}
	if p[len(magic)] != version {
		return Beacon{}, fmt.Errorf("%w %d", ErrVersion, p[len(magic)])
	}
	if len(p) < headerLen {
		return Beacon{}, ErrTruncated
	}
	var b Beacon
	off := len(magic) + 1
	off += copy(b.Group[:], p[off:off+GroupLen])
	b.Seq = binary.BigEndian.Uint64(p[off:])
	off += 8
	n := int(p[off])
	off++
	if n == 0 || n > MaxNameLen {
		return Beacon{}, fmt.Errorf("%w: node name of %d bytes", ErrNotBeacon, n)
	}
	if len(p) < off+n {
		return Beacon{}, ErrTruncated
	}
	b.Node = string(p[off : off+n])
	return b, nil
}
