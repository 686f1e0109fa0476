package evtx

import (
	"fmt"
	"strconv"
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

// resolver expands template instances with their values into Nodes.
type resolver struct {
	c     *chunk
	nodes *int
}

func (r *resolver) count() error {
	*r.nodes++
	if *r.nodes > maxNodes {
		return fmt.Errorf("%w: more than %d nodes", ErrCorrupt, maxNodes)
	}
	return nil
}

// resolve appends the nodes for ns, substituting vals (the values of the
// template instance being expanded, nil outside templates).
func (r *resolver) resolve(ns []tnode, vals []rawValue, depth int, out []*Node) ([]*Node, error) {
	if depth > maxDepth {
		return out, fmt.Errorf("%w: nested deeper than %d", ErrCorrupt, maxDepth)
	}
	for i := range ns {
		t := &ns[i]
		if err := r.count(); err != nil {
			return out, err
		}
		switch t.kind {
		case tElement:
			n := &Node{Kind: ElementNode, Name: t.name}
			for _, a := range t.attrs {
				attr, keep, err := r.attr(a, vals, depth)
				if err != nil {
					return out, err
				}
				if keep {
					n.Attrs = append(n.Attrs, attr)
				}
			}
			var err error
			if n.Children, err = r.resolve(t.children, vals, depth+1, nil); err != nil {
				return out, err
			}
			out = append(out, n)
		case tText:
			out = append(out, &Node{Kind: TextNode, Text: t.text})
		case tCDATA:
			out = append(out, &Node{Kind: CDATANode, Text: t.text})
		case tCharRef:
			out = append(out, &Node{Kind: CharRefNode, Text: string(rune(t.sub))})
		case tEntity:
			out = append(out, &Node{Kind: EntityRefNode, Name: t.name})
		case tPI:
			out = append(out, &Node{Kind: PINode, Name: t.name, Text: t.text})
		case tInstance:
			var err error
			if out, err = r.resolve(t.inst.tmpl.nodes, t.inst.values, depth+1, out); err != nil {
				return out, err
			}
		case tSubst:
			var err error
			if out, err = r.subst(t, vals, depth, out); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// subst appends the nodes of one substitution.
func (r *resolver) subst(t *tnode, vals []rawValue, depth int, out []*Node) ([]*Node, error) {
	if int(t.sub) >= len(vals) {
		if t.optional {
			return out, nil
		}
		return out, fmt.Errorf("%w: substitution %d of %d values", ErrCorrupt, t.sub, len(vals))
	}
	v := vals[t.sub]
	data := r.c.b[v.off : v.off+v.size]
	switch {
	case v.typ == TypeNull || (v.size == 0 && v.typ != TypeString):
		return out, nil
	case v.typ == TypeBinXML:
		p := parser{c: r.c, b: r.c.b, pos: v.off, end: v.off + v.size, nodes: r.nodes}
		nodes, err := p.fragment(false, depth+1)
		if err != nil {
			return out, fmt.Errorf("substitution %d: %w", t.sub, err)
		}
		return r.resolve(nodes, nil, depth+1, out)
	case v.typ&TypeArray != 0:
		texts, items, err := array(v.typ&^TypeArray, data)
		if err != nil {
			return out, fmt.Errorf("substitution %d: %w", t.sub, err)
		}
		if texts == nil {
			texts = []string{}
		}
		return append(out, &Node{Kind: TextNode, Text: strings.Join(texts, ", "), Items: texts, Value: event.Array(items)}), nil
	}
	s, val, err := scalar(v.typ, data)
	if err != nil {
		return out, fmt.Errorf("substitution %d: %w", t.sub, err)
	}
	return append(out, &Node{Kind: TextNode, Text: s, Value: val}), nil
}

// attr resolves an attribute value. An optional substitution whose value is
// NULL removes the attribute (keep is false).
func (r *resolver) attr(a tattr, vals []rawValue, depth int) (attr Attr, keep bool, err error) {
	attr.Name = a.name
	for _, v := range a.value {
		if v.kind == tSubst && v.optional && (int(v.sub) >= len(vals) || vals[v.sub].typ == TypeNull || vals[v.sub].size == 0) {
			return attr, false, nil
		}
	}
	nodes, err := r.resolve(a.value, vals, depth+1, nil)
	if err != nil {
		return attr, false, err
	}
	if len(nodes) == 1 {
		attr.Value = nodes[0].InnerText()
		attr.Typed = nodes[0].Value
		return attr, true, nil
	}
	var sb strings.Builder
	for _, n := range nodes {
		sb.WriteString(n.InnerText())
	}
	attr.Value = sb.String()
	return attr, true, nil
}

// XML renders the record's event as indented XML, the way Event Viewer
// shows it. A damaged record renders as a comment with its error.
func (r Record) XML() string {
	var sb strings.Builder
	sb.Grow(2048)
	if r.Root == nil {
		sb.WriteString("<!-- ")
		if r.Err != nil {
			sb.WriteString(strings.ReplaceAll(r.Err.Error(), "--", "- -"))
		}
		sb.WriteString(" -->\n")
		return sb.String()
	}
	writeNode(&sb, r.Root, 0, true)
	return sb.String()
}

// writeNode writes n; pretty says whether its parent lays out its children
// on lines of their own (element-only content).
func writeNode(sb *strings.Builder, n *Node, indent int, pretty bool) {
	switch n.Kind {
	case TextNode:
		escape(sb, n.Text, false)
		return
	case CDATANode:
		sb.WriteString("<![CDATA[")
		sb.WriteString(strings.ReplaceAll(n.Text, "]]>", "]]]]><![CDATA[>"))
		sb.WriteString("]]>")
		return
	case EntityRefNode:
		sb.WriteString("&" + n.Name + ";")
		return
	case CharRefNode:
		r := []rune(n.Text)
		if len(r) == 1 {
			sb.WriteString("&#" + strconv.Itoa(int(r[0])) + ";")
		}
		return
	case PINode:
		sb.WriteString("<?" + n.Name)
		if n.Text != "" {
			sb.WriteString(" " + n.Text)
		}
		sb.WriteString("?>")
		return
	}
	// An element whose only content is an array substitution is repeated
	// once per element of the array.
	if len(n.Children) == 1 && n.Children[0].Items != nil {
		items := n.Children[0].Items
		if len(items) == 0 {
			items = []string{""}
		}
		for i, it := range items {
			if i > 0 && pretty {
				newline(sb, indent)
			}
			writeElement(sb, n, indent, []*Node{{Kind: TextNode, Text: it}})
		}
		return
	}
	writeElement(sb, n, indent, n.Children)
}

func writeElement(sb *strings.Builder, n *Node, indent int, children []*Node) {
	sb.WriteString("<")
	sb.WriteString(n.Name)
	if indent == 0 && n.Name == "Event" {
		if _, ok := n.Attr("xmlns"); !ok {
			sb.WriteString(` xmlns="http://schemas.microsoft.com/win/2004/08/events/event"`)
		}
	}
	for _, a := range n.Attrs {
		sb.WriteByte(' ')
		sb.WriteString(a.Name)
		sb.WriteString(`="`)
		escape(sb, a.Value, true)
		sb.WriteByte('"')
	}
	if len(children) == 0 {
		sb.WriteString(" />")
		return
	}
	sb.WriteString(">")
	elementsOnly := true
	for _, c := range children {
		if c.Kind != ElementNode {
			elementsOnly = false
		}
	}
	for _, c := range children {
		if elementsOnly {
			newline(sb, indent+1)
		}
		writeNode(sb, c, indent+1, elementsOnly)
	}
	if elementsOnly {
		newline(sb, indent)
	}
	sb.WriteString("</")
	sb.WriteString(n.Name)
	sb.WriteByte('>')
}

func newline(sb *strings.Builder, indent int) {
	sb.WriteByte('\n')
	for range indent {
		sb.WriteString("  ")
	}
}

func escape(sb *strings.Builder, s string, attr bool) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			if !attr {
				continue
			}
			rep = "&quot;"
		default:
			continue
		}
		sb.WriteString(s[last:i])
		sb.WriteString(rep)
		last = i + 1
	}
	sb.WriteString(s[last:])
}
