package activities

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// PixelTimeout is the default bound of one attempt to fire an affiliate pixel (docs/API.md: 10 s per
// attempt); POSTBACK_TIMEOUT changes it (RetrySchedule.AttemptTimeout).
const PixelTimeout = 10 * time.Second

// BlockedAddressError is a pixel target that resolved to an address affiliates must not reach:
// loopback, private, link-local, multicast or unspecified.
type BlockedAddressError struct{ Addr string }

func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("refused: %s is a loopback, private, link-local, multicast or unspecified address", e.Addr)
}

var (
	// cgnat is the shared address space of carrier-grade NAT, as internal as the private ranges.
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
	// thisNetwork is 0.0.0.0/8: Linux delivers a connect to 0.0.0.0 to the local host, and the
	// rest of the block is never a public host.
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	broadcast   = netip.MustParseAddr("255.255.255.255")
)

// blockedIP reports whether an affiliate pixel may not be sent to ip.
func blockedIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
		cgnat.Contains(ip) || thisNetwork.Contains(ip) || ip == broadcast
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
