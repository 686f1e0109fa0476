package intel

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// u128 is an address as a 128-bit number; IPv4 addresses are mapped into
// ::ffff:0:0/96 so that one structure holds both families.
type u128 struct{ hi, lo uint64 }

func addrU128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (x u128) cmp(y u128) int {
	if c := cmp.Compare(x.hi, y.hi); c != 0 {
		return c
	}
	return cmp.Compare(x.lo, y.lo)
}

func (x u128) inc() u128 {
	if x.lo == ^uint64(0) {
		return u128{x.hi + 1, 0}
	}
	return u128{x.hi, x.lo + 1}
}

func (x u128) dec() u128 {
	if x.lo == 0 {
		return u128{x.hi - 1, ^uint64(0)}
	}
	return u128{x.hi, x.lo - 1}
}

var maxU128 = u128{^uint64(0), ^uint64(0)}

// prefixRange returns the first and last address of p in u128 space.
func prefixRange(p netip.Prefix) (lo, hi u128) {
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	lo = addrU128(p.Masked().Addr())
	hostBits := 128 - bits
	hi = lo
	switch {
	case hostBits >= 64:
		hi.lo = ^uint64(0)
		if hostBits == 128 {
			hi.hi = ^uint64(0)
		} else {
			hi.hi |= (uint64(1) << (hostBits - 64)) - 1
		}
	case hostBits > 0:
		hi.lo |= (uint64(1) << hostBits) - 1
	}
	return lo, hi
}

// prefixSet answers "which most specific network contains this address"
// with one binary search: nested networks are flattened at build time into
// disjoint segments, each labelled with its innermost network.
type prefixSet struct {
	segs  []segment
	nets  []netip.Prefix
	metas []meta
}

type segment struct {
	lo, hi u128
	net    uint32
}

type netEntry struct {
	p      netip.Prefix
	m      meta
	lo, hi u128
}

func buildPrefixSet(entries []netEntry) prefixSet {
	for i := range entries {
		entries[i].lo, entries[i].hi = prefixRange(entries[i].p)
	}
	// Outer networks before the networks they contain.
	slices.SortFunc(entries, func(a, b netEntry) int {
		if c := a.lo.cmp(b.lo); c != 0 {
			return c
		}
		return b.hi.cmp(a.hi)
	})
	entries = slices.CompactFunc(entries, func(a, b netEntry) bool { return a.lo == b.lo && a.hi == b.hi })
	ps := prefixSet{nets: make([]netip.Prefix, len(entries)), metas: make([]meta, len(entries))}
	for i, e := range entries {
		ps.nets[i], ps.metas[i] = e.p, e.m
	}
	var stack []uint32
	var cur u128
	exhausted := false
	emit := func(lo, hi u128, n uint32) {
		if exhausted || lo.cmp(hi) > 0 {
			return
		}
		ps.segs = append(ps.segs, segment{lo, hi, n})
	}
	closeTop := func() {
		top := stack[len(stack)-1]
		hi := entries[top].hi
		emit(cur, hi, top)
		if hi == maxU128 {
			exhausted = true
		} else if !exhausted {
			cur = hi.inc()
		}
		stack = stack[:len(stack)-1]
	}
	for i := range entries {
		e := &entries[i]
		for len(stack) > 0 && entries[stack[len(stack)-1]].hi.cmp(e.lo) < 0 {
			closeTop()
		}
		if len(stack) > 0 && cur.cmp(e.lo) < 0 {
			emit(cur, e.lo.dec(), stack[len(stack)-1])
		}
		stack = append(stack, uint32(i))
		cur = e.lo
		exhausted = false
	}
	for len(stack) > 0 {
		closeTop()
	}
	return ps
}

// lookup returns the innermost network containing a.
func (ps *prefixSet) lookup(a netip.Addr) (int, bool) {
	if len(ps.segs) == 0 {
		return 0, false
	}
	x := addrU128(a)
	i, found := slices.BinarySearchFunc(ps.segs, x, func(s segment, x u128) int { return s.lo.cmp(x) })
	if !found {
		i--
	}
	if i < 0 || ps.segs[i].hi.cmp(x) < 0 {
		return 0, false
	}
	return int(ps.segs[i].net), true
}
