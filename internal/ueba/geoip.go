package ueba

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// GeoInfo is what GeoIP data says of an address.
type GeoInfo struct {
	// Country is the ISO 3166-1 alpha-2 code ("" unknown).
	Country string
	// ASN is the autonomous system number (0 unknown); Org its operator.
	ASN uint32
	Org string
}

// Geo looks addresses up; the engine asks only for public addresses and
// only when a user is seen from a new address.
type Geo interface {
	Lookup(ip netip.Addr) (GeoInfo, bool)
}

// GeoIP reads MaxMind-format databases (GeoLite2/GeoIP2 Country, City and
// ASN, DB-IP's lite editions, or any .mmdb with the same field names).
// Several databases combine: the first that knows a field answers it.
type GeoIP struct {
	readers []*maxminddb.Reader
	paths   []string
}

// geoRecord holds the fields wacht reads from an .mmdb record.
type geoRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	ASN uint32 `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

// OpenGeoIP opens .mmdb files; an error names the file.
func OpenGeoIP(paths ...string) (*GeoIP, error) {
	g := &GeoIP{}
	for _, p := range paths {
		r, err := maxminddb.Open(p)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("open GeoIP database %s: %w", p, err)
		}
		g.readers = append(g.readers, r)
		g.paths = append(g.paths, p)
	}
	return g, nil
}

// OpenGeoIPBytes reads databases held in memory (tests, embedded data).
func OpenGeoIPBytes(dbs ...[]byte) (*GeoIP, error) {
	g := &GeoIP{}
	for i, b := range dbs {
		r, err := maxminddb.OpenBytes(b)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("read GeoIP database %d: %w", i+1, err)
		}
		g.readers = append(g.readers, r)
		g.paths = append(g.paths, fmt.Sprintf("#%d", i+1))
	}
	return g, nil
}

// Lookup implements Geo. Private, loopback and link-local addresses have
// no location.
func (g *GeoIP) Lookup(ip netip.Addr) (GeoInfo, bool) {
	if g == nil || !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return GeoInfo{}, false
	}
	ip = ip.Unmap()
	var out GeoInfo
	found := false
	for _, r := range g.readers {
		res := r.Lookup(ip)
		if !res.Found() {
			continue
		}
		var rec geoRecord
		if err := res.Decode(&rec); err != nil {
			continue
		}
		found = true
		if out.Country == "" {
			out.Country = rec.Country.ISOCode
			if out.Country == "" {
				out.Country = rec.RegisteredCountry.ISOCode
			}
		}
		if out.ASN == 0 && rec.ASN != 0 {
			out.ASN, out.Org = rec.ASN, rec.Org
		}
	}
	return out, found && (out.Country != "" || out.ASN != 0)
}

// Close releases the databases.
func (g *GeoIP) Close() error {
	if g == nil {
		return nil
	}
	var first error
	for _, r := range g.readers {
		if err := r.Close(); err != nil && first == nil {
			first = err
		}
	}
	g.readers = nil
	return first
}
