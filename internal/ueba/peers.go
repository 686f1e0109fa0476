package ueba

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// setPeer puts host into peer group peer ("" removes it from its group).
func (ts *TenantState) setPeer(host, peer string) {
	if old, ok := ts.Peers[host]; ok && old != "" {
		ts.PeerHosts[old]--
		if ts.PeerHosts[old] <= 0 {
			delete(ts.PeerHosts, old)
		}
	}
	ts.Peers[host] = peer
	if peer != "" {
		ts.PeerHosts[peer]++
	}
}

// geoSeen looks a user's source address up and records (and reports when
// new) its country and autonomous system.
func (en *Engine) geoSeen(em *emitter, user, ip string, owner *EntityState, h int64) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return
	}
	info, ok := en.cfg.Geo.Lookup(addr)
	if !ok {
		return
	}
	if info.Country != "" {
		if isNew, again := en.seenPair(em.ts, PairKey{pairUserCountry, user, info.Country}, h); isNew && !em.learning && en.mature(owner, h) {
			em.emit(DetNewCountry, Entity{KindUser, user}, 70,
				fmt.Sprintf("user %s seen from %s (%s) for the first time%s", user, info.Country, ip, again),
				info.Country, en.knownOf(em.ts, pairUserCountry, user, info.Country), "the user's own history",
				[]Part{{"first_seen", 1}, {"user_age_hours", float64(h - owner.First)}})
		}
	}
	if info.ASN != 0 {
		asn := "AS" + strconv.FormatUint(uint64(info.ASN), 10)
		if isNew, again := en.seenPair(em.ts, PairKey{pairUserASN, user, asn}, h); isNew && !em.learning && en.mature(owner, h) {
			org := asn
			if info.Org != "" {
				org += " " + info.Org
			}
			em.emit(DetNewASN, Entity{KindUser, user}, 45,
				fmt.Sprintf("user %s seen from network %s (%s) for the first time%s", user, org, ip, again),
				org, en.knownOf(em.ts, pairUserASN, user, asn), "the user's own history",
				[]Part{{"first_seen", 1}, {"asn", float64(info.ASN)}})
		}
	}
}

// seenPair records k at hour h; isNew when unseen within the expiry.
func (en *Engine) seenPair(ts *TenantState, k PairKey, h int64) (isNew bool, again string) {
	last, ok := ts.Pairs[k]
	expiry := int64(en.cfg.FirstSeenExpiry / time.Hour)
	if ok && h-last <= expiry {
		if h > last {
			ts.Pairs[k] = h
		}
		return false, ""
	}
	ts.Pairs[k] = h
	if ok {
		again = fmt.Sprintf(" (last seen %d days ago, beyond the %d-day memory)", (h-last)/24, expiry/24)
	}
	return true, again
}

// knownOf lists up to five values known for a in a pair kind other than
// except (the baseline of a first-seen anomaly). It walks every pair, so
// it is only called when an anomaly is reported (a few a day per entity).
func (en *Engine) knownOf(ts *TenantState, kind pairKind, a, except string) string {
	var vals []string
	for k := range ts.Pairs {
		if k.Kind == kind && k.A == a && k.B != except {
			vals = append(vals, k.B)
		}
	}
	if len(vals) == 0 {
		return "nothing seen before"
	}
	slices.Sort(vals)
	out := ""
	n := 0
	for _, v := range vals {
		if n == 5 {
			out += fmt.Sprintf(" and %d more", len(vals)-5)
			break
		}
		if n > 0 {
			out += ", "
		}
		out += v
		n++
	}
	return "seen before: " + out
}
