package evtx

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendXML renders the root element as indented XML, the way Event
// Viewer shows it.
func (d *doc) appendXML(dst []byte) []byte {
	return d.xmlNode(dst, d.root, 0, true)
}

// appendDamaged renders a record that has no event as a comment with its
// error.
func appendDamaged(dst []byte, err error) []byte {
	dst = append(dst, "<!-- "...)
	if err != nil {
		dst = append(dst, strings.ReplaceAll(err.Error(), "--", "- -")...)
	}
	return append(dst, " -->\n"...)
}

// xmlNode writes node i; pretty says whether its parent lays out its
// children on lines of their own (element-only content).
func (d *doc) xmlNode(dst []byte, i int32, indent int, pretty bool) []byte {
	n := &d.nodes[i]
	switch n.kind {
	case TextNode:
		if n.typ != 0 {
			// Numbers, booleans and times have nothing to escape.
			return appendScalarText(dst, n.typ, n.data)
		}
		return appendEscaped(dst, n.text, false)
	case CDATANode:
		dst = append(dst, "<![CDATA["...)
		dst = append(dst, strings.ReplaceAll(n.text, "]]>", "]]]]><![CDATA[>")...)
		return append(dst, "]]>"...)
	case EntityRefNode:
		dst = append(dst, '&')
		dst = append(dst, n.name...)
		return append(dst, ';')
	case CharRefNode:
		if utf8.RuneCountInString(n.text) == 1 {
			r, _ := utf8.DecodeRuneInString(n.text)
			dst = append(dst, "&#"...)
			dst = strconv.AppendInt(dst, int64(r), 10)
			dst = append(dst, ';')
		}
		return dst
	case PINode:
		dst = append(dst, "<?"...)
		dst = append(dst, n.name...)
		if n.text != "" {
			dst = append(dst, ' ')
			dst = append(dst, n.text...)
		}
		return append(dst, "?>"...)
	}
	// An element whose only content is an array substitution is repeated
	// once per element of the array.
	if n.kids.n == 1 && d.nodes[n.kids.first].array {
		items := d.nodes[n.kids.first].items
		if len(items) == 0 {
			items = []string{""}
		}
		for k, it := range items {
			if k > 0 && pretty {
				dst = appendNewline(dst, indent)
			}
			dst = append(d.xmlStart(dst, i, indent), '>')
			dst = appendEscaped(dst, it, false)
			dst = d.xmlEnd(dst, n.name)
		}
		return dst
	}
	dst = d.xmlStart(dst, i, indent)
	if n.kids.n == 0 {
		return append(dst, " />"...)
	}
	dst = append(dst, '>')
	elementsOnly := true
	for k := n.kids.first; k != none; k = d.nodes[k].next {
		if d.nodes[k].kind != ElementNode {
			elementsOnly = false
			break
		}
	}
	for k := n.kids.first; k != none; k = d.nodes[k].next {
		if elementsOnly {
			dst = appendNewline(dst, indent+1)
		}
		dst = d.xmlNode(dst, k, indent+1, elementsOnly)
	}
	if elementsOnly {
		dst = appendNewline(dst, indent)
	}
	return d.xmlEnd(dst, n.name)
}

// xmlStart writes the start tag of element i without its closing bracket.
func (d *doc) xmlStart(dst []byte, i int32, indent int) []byte {
	n := &d.nodes[i]
	dst = append(dst, '<')
	dst = append(dst, n.name...)
	if indent == 0 && n.name == "Event" && d.findAttr(i, "xmlns") == nil {
		dst = append(dst, ` xmlns="http://schemas.microsoft.com/win/2004/08/events/event"`...)
	}
	for k := n.attrs.first; k != none; k = d.attrs[k].next {
		a := &d.attrs[k]
		dst = append(dst, ' ')
		dst = append(dst, a.name...)
		dst = append(dst, `="`...)
		dst = d.appendAttrValue(dst, a)
		dst = append(dst, '"')
	}
	return dst
}

func (d *doc) xmlEnd(dst []byte, name string) []byte {
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

// appendAttrValue writes an attribute's value escaped.
func (d *doc) appendAttrValue(dst []byte, a *dattr) []byte {
	if a.vals.n == 1 {
		n := &d.nodes[a.vals.first]
		switch {
		case n.kind == TextNode && n.typ != 0:
			return appendScalarText(dst, n.typ, n.data)
		case n.kind == TextNode:
			return appendEscaped(dst, n.text, true)
		}
	}
	return appendEscaped(dst, d.attrText(a), true)
}

func appendNewline(dst []byte, indent int) []byte {
	dst = append(dst, '\n')
	for range indent {
		dst = append(dst, "  "...)
	}
	return dst
}

func appendEscaped(dst []byte, s string, attr bool) []byte {
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
		dst = append(dst, s[last:i]...)
		dst = append(dst, rep...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}
