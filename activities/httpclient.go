package activities

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// BlockedAddressError is a pixel target that resolved to an address affiliates must not reach:
// loopback, private, link-local, multicast, unspecified, or another special-purpose address that
// is not globally reachable (blockedRanges), including an IPv6 form embedding such an IPv4 address.
type BlockedAddressError struct{ Addr string }

func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("refused: %s is a loopback, private, link-local, multicast, unspecified or other special-purpose address", e.Addr)
}

// specialRange is a range of IANA's IPv4 and IPv6 Special-Purpose Address Registries (reviewed
// 2026-12) that is not globally reachable, or a block no public host uses (multicast, reserved,
// deprecated): an affiliate pixel may not be sent there.
type specialRange struct {
	prefix netip.Prefix
	what   string
}

func special(prefix, what string) specialRange {
	return specialRange{netip.MustParsePrefix(prefix), what}
}

// blockedRanges are the ranges blockedIP refuses outright. The IPv6 forms that carry an IPv4
// address (mapped, compatible, SIIT, NAT64, 6to4, Teredo) are not here: embeddedIPv4 extracts
// their IPv4 address, which is then checked (a NAT64 gateway or 6to4 relay would deliver the
// packet to it).
var blockedRanges = []specialRange{
	special("0.0.0.0/8", "this network (Linux delivers 0.0.0.0 to the local host)"),
	special("10.0.0.0/8", "private"),
	special("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
	special("127.0.0.0/8", "loopback"),
	special("169.254.0.0/16", "link-local (cloud metadata)"),
	special("172.16.0.0/12", "private"),
	special("192.0.0.0/24", "IETF protocol assignments"),
	special("192.0.2.0/24", "documentation (TEST-NET-1)"),
	special("192.88.99.0/24", "deprecated 6to4 relay anycast"),
	special("192.168.0.0/16", "private"),
	special("198.18.0.0/15", "benchmarking"),
	special("198.51.100.0/24", "documentation (TEST-NET-2)"),
	special("203.0.113.0/24", "documentation (TEST-NET-3)"),
	special("224.0.0.0/4", "multicast"),
	special("240.0.0.0/4", "reserved (and 255.255.255.255, limited broadcast)"),

	special("::/128", "unspecified"),
	special("::1/128", "loopback"),
	special("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
	special("100::/64", "discard-only"),
	special("100:0:0:1::/64", "dummy prefix"),
	special("2001::/23", "IETF protocol assignments (but the globally reachable ones in allowedInBlocked)"),
	special("2001:db8::/32", "documentation"),
	special("3fff::/20", "documentation"),
	special("5f00::/16", "segment routing (SRv6) SIDs"),
	special("fc00::/7", "unique local"),
	special("fe80::/10", "link-local"),
	special("fec0::/10", "deprecated site-local"),
	special("ff00::/8", "multicast"),
}

// allowedInBlocked are the globally reachable assignments inside 2001::/23, and Teredo, whose
// embedded IPv4 addresses are checked instead.
var allowedInBlocked = []specialRange{
	special("2001::/32", "Teredo (its server and client IPv4 are checked)"),
	special("2001:1::1/128", "port control protocol anycast"),
	special("2001:1::2/128", "TURN anycast"),
	special("2001:1::3/128", "DNS-SD service registration anycast"),
	special("2001:3::/32", "AMT"),
	special("2001:4:112::/48", "AS112-v6"),
	special("2001:20::/28", "ORCHIDv2"),
	special("2001:30::/28", "drone remote ID"),
}

var (
	ipv4Mapped     = netip.MustParsePrefix("::ffff:0:0/96")
	ipv4Compatible = netip.MustParsePrefix("::/96")
	siit           = netip.MustParsePrefix("::ffff:0:0:0/96")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
)

// embeddedIPv4 returns the IPv4 addresses an IPv6 address reaches by a standard translation or
// tunnel: the low 32 bits of IPv4-mapped, IPv4-compatible, SIIT (RFC 2765) and NAT64 (RFC 6052)
// addresses; bits 16-47 of 6to4 (RFC 3056); a Teredo address's server (bits 32-63) and its
// obfuscated client (the low 32 bits inverted, RFC 4380).
func embeddedIPv4(ip netip.Addr) []netip.Addr {
	if !ip.Is6() {
		return nil
	}
	b := ip.As16()
	v4 := func(o int) netip.Addr { return netip.AddrFrom4([4]byte(b[o : o+4])) }
	switch {
	case ipv4Mapped.Contains(ip), ipv4Compatible.Contains(ip), siit.Contains(ip), nat64.Contains(ip):
		return []netip.Addr{v4(12)}
	case sixToFour.Contains(ip):
		return []netip.Addr{v4(2)}
	case teredo.Contains(ip):
		client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		return []netip.Addr{v4(4), netip.AddrFrom4(client)}
	}
	return nil
}

// blockedIP reports whether an affiliate pixel may not be sent to ip.
func blockedIP(ip netip.Addr) bool {
	_, blocked := blockedReason(ip)
	return blocked
}

// blockedReason is blockedIP with the range that blocks ip.
func blockedReason(ip netip.Addr) (string, bool) {
	if !ip.IsValid() {
		return "invalid", true
	}
	ip = ip.WithZone("")
	for _, v4 := range embeddedIPv4(ip) {
		if what, blocked := blockedReason(v4); blocked {
			return "embeds " + v4.String() + ": " + what, true
		}
	}
	ip = ip.Unmap()
	for _, a := range allowedInBlocked {
		if a.prefix.Contains(ip) {
			return "", false
		}
	}
	for _, b := range blockedRanges {
		if b.prefix.Contains(ip) {
			return b.what, true
		}
	}
	return "", false
}

// NewPixelClient returns the HTTP client that fires affiliate pixels. It never follows redirects,
// ignores proxy settings, and, unless allowPrivate, refuses internal addresses at dial time: the
// check runs on the IP actually dialled, after DNS resolution, so DNS rebinding cannot bypass it.
// It sets no overall timeout: FirePixel bounds each attempt with its context (POSTBACK_TIMEOUT).
func NewPixelClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &BlockedAddressError{Addr: address}
			}
			if blockedIP(ap.Addr()) {
				return &BlockedAddressError{Addr: ap.Addr().String()}
			}
			return nil
		}
	}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        200,
		MaxIdleConnsPerHost: 20,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
