package evtx

import (
	"fmt"
	"strings"

	"github.com/wacht-soc/wacht/event"
)

// doc is a resolved record held in flat slices that are reused from one
// record to the next: nodes link to their first child and next sibling by
// index. ParseAll renders fields and XML straight from it, so a record
// costs no allocation per element; Records turns it into Nodes for
// callers of the public tree.
type doc struct {
	c      *chunk
	nodes  []dnode
	attrs  []dattr
	budget int
	// top is the resolved top level of the record; root its first element.
	top  dlist
	root int32
	// tmpl is the record's template, which remembers how many fields its
	// last event had.
	tmpl *template
	// scratch holds texts rendered on demand.
	scratch []byte
}

// dlist is a list of nodes or attributes linked through their next index.
type dlist struct {
	first, last, n int32
}

const none = -1

// dnode is one resolved node. Text from a substitution of a number, bool
// or time keeps its value type and data and is rendered when needed (typ
// non-zero); every other node has its text in text.
type dnode struct {
	kind  NodeKind
	array bool      // an array substitution: items are its element texts
	typ   ValueType // type of a value whose text is rendered from data
	name  string
	text  string
	data  []byte
	value event.Value
	items []string
	attrs dlist
	kids  dlist
	next  int32
}

type dattr struct {
	name string
	vals dlist
	next int32
}

func (d *doc) reset(c *chunk) {
	d.c = c
	d.nodes = d.nodes[:0]
	d.attrs = d.attrs[:0]
	d.budget = 0
	d.top = dlist{first: none, last: none}
	d.root = none
	d.tmpl = nil
}

func (d *doc) count() error {
	d.budget++
	if d.budget > maxNodes {
		return fmt.Errorf("%w: more than %d nodes", ErrCorrupt, maxNodes)
	}
	return nil
}

// add appends a node (not yet in any list) and returns its index.
func (d *doc) add(n dnode) int32 {
	n.next = none
	if n.kids.n == 0 {
		n.kids = emptyList()
	}
	if n.attrs.n == 0 {
		n.attrs = emptyList()
	}
	d.nodes = append(d.nodes, n)
	return int32(len(d.nodes) - 1)
}

func (d *doc) push(l *dlist, i int32) {
	if l.n == 0 {
		l.first = i
	} else {
		d.nodes[l.last].next = i
	}
	l.last = i
	l.n++
}

func emptyList() dlist { return dlist{first: none, last: none} }

// decode parses and resolves the record's binary XML between start and
// end of the chunk.
func (d *doc) decode(c *chunk, start, end int) error {
	d.reset(c)
	p := parser{c: c, b: c.b, pos: start, end: end, nodes: &d.budget}
	nodes, err := p.fragment(true, 0)
	if err != nil {
		return err
	}
	for i := range nodes {
		if nodes[i].kind == tInstance {
			d.tmpl = nodes[i].inst.tmpl
			break
		}
	}
	err = d.resolve(nodes, nil, 0, &d.top)
	for i := d.top.first; d.top.n > 0 && i != none; i = d.nodes[i].next {
		if d.nodes[i].kind == ElementNode {
			d.root = i
			break
		}
	}
	if err == nil && d.root == none {
		err = fmt.Errorf("%w: no event element", ErrCorrupt)
	}
	return err
}

// resolve appends the nodes for ns to out, substituting vals (the values of
// the template instance being expanded, nil outside templates). An element
// joins out only once it is complete, so after an error out holds what was
// resolved before it.
func (d *doc) resolve(ns []tnode, vals []rawValue, depth int, out *dlist) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrCorrupt, maxDepth)
	}
	for i := range ns {
		t := &ns[i]
		if err := d.count(); err != nil {
			return err
		}
		switch t.kind {
		case tElement:
			attrs := dlist{first: none, last: none}
			for j := range t.attrs {
				if err := d.attr(&t.attrs[j], vals, depth, &attrs); err != nil {
					return err
				}
			}
			kids := emptyList()
			if err := d.resolve(t.children, vals, depth+1, &kids); err != nil {
				return err
			}
			d.push(out, d.add(dnode{kind: ElementNode, name: t.name, attrs: attrs, kids: kids}))
		case tText:
			d.push(out, d.add(dnode{kind: TextNode, text: t.text}))
		case tCDATA:
			d.push(out, d.add(dnode{kind: CDATANode, text: t.text}))
		case tCharRef:
			d.push(out, d.add(dnode{kind: CharRefNode, text: string(rune(t.sub))}))
		case tEntity:
			d.push(out, d.add(dnode{kind: EntityRefNode, name: t.name}))
		case tPI:
			d.push(out, d.add(dnode{kind: PINode, name: t.name, text: t.text}))
		case tInstance:
			if err := d.resolve(t.inst.tmpl.nodes, t.inst.values, depth+1, out); err != nil {
				return err
			}
		case tSubst:
			if err := d.subst(t, vals, depth, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// subst appends the nodes of one substitution.
func (d *doc) subst(t *tnode, vals []rawValue, depth int, out *dlist) error {
	if int(t.sub) >= len(vals) {
		if t.optional {
			return nil
		}
		return fmt.Errorf("%w: substitution %d of %d values", ErrCorrupt, t.sub, len(vals))
	}
	v := vals[t.sub]
	data := d.c.b[v.off : v.off+v.size]
	switch {
	case v.typ == TypeNull || (v.size == 0 && v.typ != TypeString):
		return nil
	case v.typ == TypeBinXML:
		p := parser{c: d.c, b: d.c.b, pos: v.off, end: v.off + v.size, nodes: &d.budget}
		nodes, err := p.fragment(false, depth+1)
		if err != nil {
			return fmt.Errorf("substitution %d: %w", t.sub, err)
		}
		return d.resolve(nodes, nil, depth+1, out)
	case v.typ&TypeArray != 0:
		texts, items, err := array(v.typ&^TypeArray, data)
		if err != nil {
			return fmt.Errorf("substitution %d: %w", t.sub, err)
		}
		if texts == nil {
			texts = []string{}
		}
		d.push(out, d.add(dnode{kind: TextNode, array: true, text: strings.Join(texts, ", "), items: texts, value: event.Array(items)}))
		return nil
	}
	val, err := scalarValue(v.typ, data)
	if err != nil {
		return fmt.Errorf("substitution %d: %w", t.sub, err)
	}
	n := dnode{kind: TextNode, value: val}
	if val.Kind() == event.KindString {
		n.text = val.Str()
	} else {
		n.typ, n.data = v.typ, data
	}
	d.push(out, d.add(n))
	return nil
}

// attr resolves an attribute value and appends the attribute to out. An
// optional substitution whose value is NULL removes the attribute.
func (d *doc) attr(a *tattr, vals []rawValue, depth int, out *dlist) error {
	for _, v := range a.value {
		if v.kind == tSubst && v.optional && (int(v.sub) >= len(vals) || vals[v.sub].typ == TypeNull || vals[v.sub].size == 0) {
			return nil
		}
	}
	values := emptyList()
	if err := d.resolve(a.value, vals, depth+1, &values); err != nil {
		return err
	}
	d.pushAttr(out, dattr{name: a.name, vals: values})
	return nil
}

func (d *doc) pushAttr(l *dlist, a dattr) {
	a.next = none
	d.attrs = append(d.attrs, a)
	i := int32(len(d.attrs) - 1)
	if l.n == 0 {
		l.first = i
	} else {
		d.attrs[l.last].next = i
	}
	l.last = i
	l.n++
}

// appendText appends the character data of node i (InnerText).
func (d *doc) appendText(dst []byte, i int32) []byte {
	n := &d.nodes[i]
	switch n.kind {
	case TextNode, CDATANode, CharRefNode:
		if n.typ != 0 {
			return appendScalarText(dst, n.typ, n.data)
		}
		return append(dst, n.text...)
	case EntityRefNode:
		return append(dst, entityText(n.name)...)
	case ElementNode:
		for k := n.kids.first; k != none; k = d.nodes[k].next {
			dst = d.appendText(dst, k)
		}
	}
	return dst
}

// innerText is the character data of node i as a string; text that is
// stored whole is returned without copying.
func (d *doc) innerText(i int32) string {
	n := &d.nodes[i]
	switch {
	case n.kind == ElementNode && n.kids.n == 1:
		return d.innerText(n.kids.first)
	case n.kind == ElementNode, n.typ != 0:
		d.scratch = d.appendText(d.scratch[:0], i)
		return string(d.scratch)
	case n.kind == EntityRefNode:
		return entityText(n.name)
	case n.kind == PINode:
		return ""
	}
	return n.text
}

// attrText is the rendered value of attribute a.
func (d *doc) attrText(a *dattr) string {
	if a.vals.n == 1 {
		return d.innerText(a.vals.first)
	}
	d.scratch = d.scratch[:0]
	for k := a.vals.first; k != none; k = d.nodes[k].next {
		d.scratch = d.appendText(d.scratch, k)
	}
	return string(d.scratch)
}

// attrTyped is the typed value of attribute a: its substitution's value
// when the value is one substitution, else null.
func (d *doc) attrTyped(a *dattr) event.Value {
	if a.vals.n == 1 {
		return d.nodes[a.vals.first].value
	}
	return event.Value{}
}

// child returns the first child element of i with the given name.
func (d *doc) child(i int32, name string) int32 {
	if i == none {
		return none
	}
	for k := d.nodes[i].kids.first; k != none; k = d.nodes[k].next {
		if d.nodes[k].kind == ElementNode && d.nodes[k].name == name {
			return k
		}
	}
	return none
}

// findAttr returns the first attribute of i with the given name.
func (d *doc) findAttr(i int32, name string) *dattr {
	for k := d.nodes[i].attrs.first; k != none; k = d.attrs[k].next {
		if d.attrs[k].name == name {
			return &d.attrs[k]
		}
	}
	return nil
}

// attrNamed is the value of i's first attribute with the given name, ""
// when it has none.
func (d *doc) attrNamed(i int32, name string) string {
	if a := d.findAttr(i, name); a != nil {
		return d.attrText(a)
	}
	return ""
}

func (d *doc) hasElements(i int32) bool {
	for k := d.nodes[i].kids.first; k != none; k = d.nodes[k].next {
		if d.nodes[k].kind == ElementNode {
			return true
		}
	}
	return false
}

// nodeValue is the typed value of an element's content: the substituted
// value when there is exactly one, else the text.
func (d *doc) nodeValue(i int32) event.Value {
	n := &d.nodes[i]
	if n.kids.n == 1 {
		c := &d.nodes[n.kids.first]
		if c.kind == TextNode && !c.value.IsNull() {
			return c.value
		}
	}
	return event.String(d.innerText(i))
}
