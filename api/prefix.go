package api

import (
	"errors"
	"net/netip"
	"strings"
)

// ParsePrefix reads an entry of an IP list (an advertiser's allowed_ips, TRUSTED_PROXIES): a CIDR,
// or a bare address meaning that one address. An IPv4-mapped IPv6 form (::ffff:127.0.0.1,
// ::ffff:10.0.0.0/104) is returned as the IPv4 prefix it means: client addresses are compared
// unmapped, so a mapped entry kept as IPv6 would silently never match (issue 8, finding 6).
// The result is masked; zones are refused (they never match a client address).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "%") {
		return netip.Prefix{}, errors.New("an address zone is not allowed")
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		ip, err2 := netip.ParseAddr(s)
		if err2 != nil {
			return netip.Prefix{}, err
		}
		p = netip.PrefixFrom(ip, ip.BitLen())
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("an IPv4-mapped prefix must be at least /96")
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
