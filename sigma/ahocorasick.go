package sigma

// acMatcher is an Aho-Corasick automaton compiled to a DFA over byte
// classes: one table lookup per input byte whatever the number of patterns.
// The engine runs one per field and logsource group to find, in one pass
// over a field value, every rule literal the value contains.
type acMatcher struct {
	class  [256]uint16
	nclass int
	// trans maps a state's offset (state*nclass) plus a byte class to the
	// next state's offset: no multiplication on the scan's critical path.
	// States are numbered so that those with output come last, so that
	// "offset ≥ outFrom" tells whether to report without a memory load.
	trans   []int32
	outFrom int32
	own     [][]int32 // by state: the patterns ending there
	dict    []int32   // by state: nearest state along fail links with output, or -1
	// minLen is the length of the shortest pattern: shorter ASCII values
	// cannot contain one and are not scanned.
	minLen int
}

func newACMatcher(patterns []string) *acMatcher {
	m := &acMatcher{}
	for i, p := range patterns {
		if i == 0 || len(p) < m.minLen {
			m.minLen = len(p)
		}
	}
	// Byte classes: every byte that occurs in a pattern gets its own class,
	// all others share class 0.
	var used [256]bool
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
	}
	m.nclass = 1
	for b := 0; b < 256; b++ {
		if used[b] {
			m.class[b] = uint16(m.nclass)
			m.nclass++
		}
	}
	// Patterns are lower case: an upper-case ASCII letter of the input
	// takes the class of its lower-case letter, so that ASCII input is
	// scanned without lower-casing it first (see scanFold).
	for b := 'A'; b <= 'Z'; b++ {
		m.class[b] = m.class[b+'a'-'A']
	}
	// Trie.
	type node struct {
		next map[uint16]int32
		out  []int32
	}
	nodes := []node{{next: map[uint16]int32{}}}
	for pi, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := m.class[p[i]]
			nx, ok := nodes[s].next[c]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, node{next: map[uint16]int32{}})
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, int32(pi))
	}
	n := len(nodes)
	nc := m.nclass
	m.trans = make([]int32, n*nc)
	m.own = make([][]int32, n)
	m.dict = make([]int32, n)
	hasOut := make([]bool, n)
	fail := make([]int32, n)
	queue := make([]int32, 0, n)
	for c := 0; c < nc; c++ {
		if nx, ok := nodes[0].next[uint16(c)]; ok {
			m.trans[c] = nx
			queue = append(queue, nx)
		}
	}
	m.dict[0] = -1
	for i := 0; i < len(queue); i++ {
		s := queue[i]
		f := fail[s]
		m.own[s] = nodes[s].out
		if len(nodes[f].out) > 0 {
			m.dict[s] = f
		} else {
			m.dict[s] = m.dict[f]
		}
		hasOut[s] = len(m.own[s]) > 0 || m.dict[s] >= 0
		for c := 0; c < nc; c++ {
			if nx, ok := nodes[s].next[uint16(c)]; ok {
				fail[nx] = m.trans[int(f)*nc+c]
				m.trans[int(s)*nc+c] = nx
				queue = append(queue, nx)
			} else {
				m.trans[int(s)*nc+c] = m.trans[int(f)*nc+c]
			}
		}
	}
	m.renumber(hasOut)
	return m
}

// renumber puts the states with output last (the root stays 0 unless it
// has output itself, which only an empty pattern gives) and turns the
// transition targets into offsets.
func (m *acMatcher) renumber(hasOut []bool) {
	n, nc := len(hasOut), m.nclass
	idx := make([]int32, n)
	next := int32(0)
	for pass := 0; pass < 2; pass++ {
		for s := 0; s < n; s++ {
			if hasOut[s] == (pass == 1) {
				idx[s] = next
				next++
			}
		}
		if pass == 0 {
			m.outFrom = next * int32(nc)
		}
	}
	if idx[0] != 0 {
		// The root has output: every state reports. Keep the numbering
		// and report always.
		for s := range idx {
			idx[s] = int32(s)
		}
		m.outFrom = 0
	}
	trans := make([]int32, len(m.trans))
	own := make([][]int32, n)
	dict := make([]int32, n)
	for s := 0; s < n; s++ {
		ns := int(idx[s])
		for c := 0; c < nc; c++ {
			trans[ns*nc+c] = idx[m.trans[s*nc+c]] * int32(nc)
		}
		own[ns] = m.own[s]
		dict[ns] = -1
		if d := m.dict[s]; d >= 0 {
			dict[ns] = idx[d]
		}
	}
	m.trans, m.own, m.dict = trans, own, dict
}

// scan appends to hits every pattern occurring in s, which must be lower
// case (a pattern may be reported more than once).
func (m *acMatcher) scan(s string, hits []int32) []int32 {
	hits, _ = m.scanFold(s, hits)
	return hits
}

func (m *acMatcher) report(off int32, hits []int32) []int32 {
	for o := off / int32(m.nclass); o >= 0; o = m.dict[o] {
		hits = append(hits, m.own[o]...)
	}
	return hits
}

// scanFold is scan over s as if it were lower-cased, for ASCII s: it
// reports ok false (and hits to be discarded) when s has a non-ASCII byte,
// whose lower case the caller must compute and scan instead.
func (m *acMatcher) scanFold(s string, hits []int32) (_ []int32, ok bool) {
	if len(s) < m.minLen {
		// Lower-casing non-ASCII text may lengthen it: only ASCII values
		// are known to be too short.
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return hits, false
			}
		}
		return hits, true
	}
	trans, class := m.trans, &m.class
	var acc byte
	st := int32(0)
	for i := 0; i < len(s); i++ {
		b := s[i]
		acc |= b
		st = trans[st+int32(class[b])]
		if st >= m.outFrom {
			hits = m.report(st, hits)
		}
	}
	return hits, acc < 0x80
}
