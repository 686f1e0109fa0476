package sigma

// acMatcher is an Aho-Corasick automaton compiled to a DFA over byte
// classes: one table lookup per input byte whatever the number of patterns.
// The engine runs one per field and logsource group to find, in one pass
// over a field value, every rule literal the value contains.
type acMatcher struct {
	class  [256]uint16
	nclass int
	trans  []int32 // state*nclass + class → state
	own    [][]int32
	dict   []int32 // nearest state along fail links with output, or -1
	hasOut []bool
}

func newACMatcher(patterns []string) *acMatcher {
	m := &acMatcher{}
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
	m.hasOut = make([]bool, n)
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
		m.hasOut[s] = len(m.own[s]) > 0 || m.dict[s] >= 0
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
	return m
}

// scan appends to hits every pattern occurring in s (a pattern may be
// reported more than once).
func (m *acMatcher) scan(s string, hits []int32) []int32 {
	st := int32(0)
	nc := int32(m.nclass)
	for i := 0; i < len(s); i++ {
		st = m.trans[st*nc+int32(m.class[s[i]])]
		if !m.hasOut[st] {
			continue
		}
		for o := st; o >= 0; o = m.dict[o] {
			hits = append(hits, m.own[o]...)
		}
	}
	return hits
}
