package vip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ifaProto is the IFA_PROTO address attribute (include/uapi/linux/if_addr.h,
// Linux 6.1). golang.org/x/sys/unix does not define it, and
// vishvananda/netlink v1.3.1 neither sends nor parses it, which is why this
// file builds and parses RTM_*ADDR messages itself.
const ifaProto = 11

// infiniteLifetime is INFINITY_LIFE_TIME in the kernel: a lifetime that never
// expires.
const infiniteLifetime = 0xffffffff

// netlinkTimeout bounds each netlink request so that a reconcile can never
// hang its caller; the kernel answers these in well under a millisecond.
const netlinkTimeout = 5 * time.Second

// dumpAttempts bounds retries of an address dump that the kernel reports as
// interrupted (NLM_F_DUMP_INTR: the table changed while it was being read).
const dumpAttempts = 3

// kernelAddr is one address on an interface, as the kernel reports it or as
// the binder asks for it.
type kernelAddr struct {
	Prefix       netip.Prefix
	Flags        uint32 // IFA_F_*
	Scope        uint8  // RT_SCOPE_*
	Proto        uint8  // IFA_PROTO; 0 when absent
	PreferredLft uint32 // seconds; infiniteLifetime for forever
	ValidLft     uint32 // seconds; infiniteLifetime for forever
}

// netlinker is what the binder needs from rtnetlink. The real one is kernel;
// tests use a hand-written fake.
type netlinker interface {
	// AddrList looks the interface up by name and returns its index and
	// every address on it. A missing interface yields ErrInterfaceNotFound.
	AddrList(ifname string) (index int, addrs []kernelAddr, err error)
	// AddrAdd adds a on the interface with the given index (exclusively:
	// EEXIST if it is there already).
	AddrAdd(index int, a kernelAddr) error
	// AddrReplace changes the lifetimes of a, which is on the interface
	// with the given index (NLM_F_REPLACE without NLM_F_CREATE). It sends
	// every attribute again: a replace without IFA_PROTO resets the
	// protocol to 0. The kernel re-creates an address it has just expired
	// all the same, so callers replace only addresses they may hold.
	AddrReplace(index int, a kernelAddr) error
	// AddrDel deletes a from the interface with the given index.
	AddrDel(index int, a kernelAddr) error
	// AddrSubscribe sends address updates on ch until done is closed, then
	// closes ch. It also closes ch when the subscription breaks.
	AddrSubscribe(ch chan<- netlink.AddrUpdate, done <-chan struct{}, onErr func(error)) error
}

// kernel implements netlinker with rtnetlink sockets opened in one network
// namespace (netns.None(): the caller's own).
type kernel struct {
	ns netns.NsHandle
}

func (k kernel) AddrList(ifname string) (int, []kernelAddr, error) {
	h, err := netlink.NewHandleAt(k.ns, unix.NETLINK_ROUTE)
	if err != nil {
		return 0, nil, fmt.Errorf("open netlink handle: %w", err)
	}
	defer h.Close()
	if err := h.SetSocketTimeout(netlinkTimeout); err != nil {
		return 0, nil, fmt.Errorf("set netlink timeout: %w", err)
	}
	link, err := h.LinkByName(ifname)
	if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
		return 0, nil, fmt.Errorf("%w: %s", ErrInterfaceNotFound, ifname)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("look up interface %s: %w", ifname, err)
	}
	index := link.Attrs().Index

	var msgs [][]byte
	for range dumpAttempts {
		req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
		msgs, err = k.execute(req, unix.RTM_NEWADDR)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return 0, nil, fmt.Errorf("dump addresses: %w", err)
	}
	var addrs []kernelAddr
	for _, m := range msgs {
		i, a, err := parseAddr(m)
		if err != nil {
			return 0, nil, err
		}
		if i == index {
			addrs = append(addrs, a)
		}
	}
	return index, addrs, nil
}

func (k kernel) AddrAdd(index int, a kernelAddr) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	for _, d := range addrMsg(index, a, true) {
		req.AddData(d)
	}
	_, err := k.execute(req, 0)
	return err
}

func (k kernel) AddrReplace(index int, a kernelAddr) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWADDR, unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	for _, d := range addrMsg(index, a, true) {
		req.AddData(d)
	}
	_, err := k.execute(req, 0)
	return err
}

func (k kernel) AddrDel(index int, a kernelAddr) error {
	req := nl.NewNetlinkRequest(unix.RTM_DELADDR, unix.NLM_F_ACK)
	for _, d := range addrMsg(index, a, false) {
		req.AddData(d)
	}
	_, err := k.execute(req, 0)
	return err
}

func (k kernel) AddrSubscribe(ch chan<- netlink.AddrUpdate, done <-chan struct{}, onErr func(error)) error {
	ns := k.ns
	return netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{
		Namespace:     &ns,
		ErrorCallback: onErr,
	})
}

// execute sends req on a socket of its own in k.ns and returns the replies of
// type resType.
func (k kernel) execute(req *nl.NetlinkRequest, resType uint16) ([][]byte, error) {
	s, err := nl.GetNetlinkSocketAt(k.ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	defer s.Close()
	tv := unix.NsecToTimeval(netlinkTimeout.Nanoseconds())
	_ = s.SetSendTimeout(&tv)    // never fails: it stores a value
	_ = s.SetReceiveTimeout(&tv) // never fails: it stores a value
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}
	return req.Execute(unix.NETLINK_ROUTE, resType)
}

// addrMsg builds the body of an RTM_NEWADDR (full) or RTM_DELADDR request.
func addrMsg(index int, a kernelAddr, full bool) []nl.NetlinkRequestData {
	ip := a.Prefix.Addr()
	family := unix.AF_INET6
	if ip.Is4() {
		family = unix.AF_INET
	}
	msg := nl.NewIfAddrmsg(family)
	msg.Prefixlen = uint8(a.Prefix.Bits())
	msg.Index = uint32(index)
	msg.Scope = a.Scope
	msg.Flags = uint8(a.Flags) // the low 8 bits; IFA_FLAGS carries all 32
	raw := ip.AsSlice()
	data := []nl.NetlinkRequestData{
		msg,
		nl.NewRtAttr(unix.IFA_LOCAL, raw),
		nl.NewRtAttr(unix.IFA_ADDRESS, raw),
	}
	if !full {
		return data
	}
	flags := binary.NativeEndian.AppendUint32(nil, a.Flags)
	ci := nl.IfaCacheInfo{IfaCacheinfo: unix.IfaCacheinfo{Prefered: a.PreferredLft, Valid: a.ValidLft}}
	return append(data,
		nl.NewRtAttr(unix.IFA_FLAGS, flags),
		nl.NewRtAttr(unix.IFA_CACHEINFO, ci.Serialize()),
		nl.NewRtAttr(ifaProto, []byte{a.Proto}),
	)
}

// parseAddr parses the body of an RTM_NEWADDR message.
func parseAddr(m []byte) (index int, a kernelAddr, err error) {
	if len(m) < unix.SizeofIfAddrmsg {
		return 0, a, fmt.Errorf("parse address message: %d bytes is too short", len(m))
	}
	msg := nl.DeserializeIfAddrmsg(m)
	a.Flags = uint32(msg.Flags)
	a.Scope = msg.Scope
	var local, address []byte
	err = walkAttrs(m[unix.SizeofIfAddrmsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFA_LOCAL:
			local = v
		case unix.IFA_ADDRESS:
			address = v
		case unix.IFA_FLAGS:
			if len(v) >= 4 {
				a.Flags = binary.NativeEndian.Uint32(v)
			}
		case unix.IFA_CACHEINFO:
			if len(v) >= 8 {
				a.PreferredLft = binary.NativeEndian.Uint32(v[0:4])
				a.ValidLft = binary.NativeEndian.Uint32(v[4:8])
			}
		case ifaProto:
			if len(v) >= 1 {
				a.Proto = v[0]
			}
		}
	})
	if err != nil {
		return 0, a, fmt.Errorf("parse address attributes: %w", err)
	}
	// IPv4 sends IFA_LOCAL (ours) and IFA_ADDRESS (the peer on
	// point-to-point links); IPv6 usually sends only IFA_ADDRESS.
	raw := local
	if raw == nil {
		raw = address
	}
	ip, ok := netip.AddrFromSlice(raw)
	if !ok {
		return 0, a, fmt.Errorf("parse address message: bad address of %d bytes", len(raw))
	}
	a.Prefix = netip.PrefixFrom(ip, int(msg.Prefixlen))
	if !a.Prefix.IsValid() {
		return 0, a, fmt.Errorf("parse address message: bad prefix length %d for %s", msg.Prefixlen, ip)
	}
	return int(msg.Index), a, nil
}

// walkAttrs calls f with the type and value of each netlink attribute in b.
// Unlike nl.ParseRouteAttr it returns an error, not a panic, on a malformed
// length.
func walkAttrs(b []byte, f func(typ uint16, v []byte)) error {
	for len(b) >= unix.SizeofRtAttr {
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		if n < unix.SizeofRtAttr || n > len(b) {
			return fmt.Errorf("bad attribute length %d with %d bytes left", n, len(b))
		}
		f(binary.NativeEndian.Uint16(b[2:4])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[unix.SizeofRtAttr:n])
		n = (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
		b = b[min(n, len(b)):]
	}
	return nil
}
