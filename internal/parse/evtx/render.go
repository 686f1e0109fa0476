package evtx

import (
	"strings"

	"github.com/wacht-soc/wacht/event"
)

// NodeKind is the kind of a Node.
type NodeKind uint8

// The kinds of nodes in a resolved event.
const (
	ElementNode NodeKind = iota + 1
	TextNode
	CDATANode
	EntityRefNode
	CharRefNode
	PINode
)

// Node is a piece of a resolved event: an element with its attributes and
// content, or character data.
type Node struct {
	Kind NodeKind
	// Name is the element name, entity name or PI target.
	Name string
	// Text is the character data of text, CDATA and PI nodes, and the
	// character of a character reference.
	Text string
	// Value is the typed value of text that came from a substitution, the
	// null value for literal text. An array substitution has an array
	// Value and its elements rendered in Items.
	Value event.Value
	Items []string
	Attrs []Attr
	// Children is the content of an element.
	Children []*Node
}

// Attr is an attribute with its rendered value and, when the value was a
// single substitution, its typed form.
type Attr struct {
	Name  string
	Value string
	Typed event.Value
}

// Child returns the first child element with the given name; nil-safe.
func (n *Node) Child(name string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Kind == ElementNode && c.Name == name {
			return c
		}
	}
	return nil
}

// Attr returns the value of the named attribute.
func (n *Node) Attr(name string) (Attr, bool) {
	if n == nil {
		return Attr{}, false
	}
	for _, a := range n.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// InnerText concatenates the character data below n.
func (n *Node) InnerText() string {
	if n == nil {
		return ""
	}
	switch n.Kind {
	case TextNode, CDATANode, CharRefNode:
		if n.Items != nil {
			return strings.Join(n.Items, ", ")
		}
		return n.Text
	case EntityRefNode:
		return entityText(n.Name)
	case ElementNode:
		if len(n.Children) == 1 {
			return n.Children[0].InnerText()
		}
		var sb strings.Builder
		for _, c := range n.Children {
			sb.WriteString(c.InnerText())
		}
		return sb.String()
	}
	return ""
}

func entityText(name string) string {
	switch name {
	case "lt":
		return "<"
	case "gt":
		return ">"
	case "amp":
		return "&"
	case "quot":
		return `"`
	case "apos":
		return "'"
	}
	return "&" + name + ";"
}

// XML renders the record's event as indented XML, the way Event Viewer
// shows it. A damaged record renders as a comment with its error.
func (r Record) XML() string {
	if r.Root == nil {
		return string(appendDamaged(nil, r.Err))
	}
	d := docFromNode(r.Root)
	return string(d.appendXML(make([]byte, 0, 2048)))
}

// docFromNode builds a doc from a resolved tree, for the methods of Record
// that work on its Root; its root is none when n is nil.
func docFromNode(n *Node) *doc {
	d := &doc{root: none}
	if n != nil {
		d.root = d.fromNode(n)
	}
	return d
}

func (d *doc) fromNode(n *Node) int32 {
	dn := dnode{kind: n.Kind, name: n.Name, text: n.Text, value: n.Value, items: n.Items, array: n.Items != nil,
		attrs: emptyList(), kids: emptyList()}
	for _, a := range n.Attrs {
		vals := emptyList()
		d.push(&vals, d.add(dnode{kind: TextNode, text: a.Value, value: a.Typed}))
		d.pushAttr(&dn.attrs, dattr{name: a.Name, vals: vals})
	}
	for _, c := range n.Children {
		d.push(&dn.kids, d.fromNode(c))
	}
	return d.add(dn)
}

// toNode builds the tree of Nodes below element i. The tree owns its
// memory: nodes, child lists and attributes each come from one allocation.
func (d *doc) toNode(i int32) *Node {
	b := nodeBuilder{d: d}
	b.count(i)
	b.nodes = make([]Node, 0, b.nnodes)
	b.kids = make([]*Node, 0, b.nkids)
	b.attrs = make([]Attr, 0, b.nattrs)
	return b.build(i)
}

type nodeBuilder struct {
	d                     *doc
	nnodes, nkids, nattrs int
	nodes                 []Node
	kids                  []*Node
	attrs                 []Attr
}

func (b *nodeBuilder) count(i int32) {
	n := &b.d.nodes[i]
	b.nnodes++
	b.nattrs += int(n.attrs.n)
	b.nkids += int(n.kids.n)
	for k := n.kids.first; k != none; k = b.d.nodes[k].next {
		b.count(k)
	}
}

func (b *nodeBuilder) build(i int32) *Node {
	d := b.d
	n := &d.nodes[i]
	b.nodes = append(b.nodes, Node{Kind: n.kind, Name: n.name, Text: n.text, Value: n.value, Items: n.items})
	out := &b.nodes[len(b.nodes)-1]
	if n.typ != 0 {
		out.Text = d.innerText(i)
	}
	if n.attrs.n > 0 {
		start := len(b.attrs)
		for k := n.attrs.first; k != none; k = d.attrs[k].next {
			a := &d.attrs[k]
			b.attrs = append(b.attrs, Attr{Name: a.name, Value: d.attrText(a), Typed: d.attrTyped(a)})
		}
		out.Attrs = b.attrs[start:len(b.attrs):len(b.attrs)]
	}
	if n.kids.n > 0 {
		start, end := len(b.kids), len(b.kids)+int(n.kids.n)
		b.kids = b.kids[:end] // reserved before the children add theirs
		j := start
		for k := n.kids.first; k != none; k = d.nodes[k].next {
			b.kids[j] = b.build(k)
			j++
		}
		out.Children = b.kids[start:end:end]
	}
	return out
}
