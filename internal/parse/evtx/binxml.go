package evtx

import (
	"encoding/binary"
	"fmt"
)

// Binary XML tokens (MS-EVEN6 2.2.12). Tokens that may carry the 0x40
// "more data" flag are compared after masking it off.
const (
	tokEOF            = 0x00
	tokOpenStart      = 0x01
	tokCloseStart     = 0x02
	tokCloseEmpty     = 0x03
	tokEndElement     = 0x04
	tokValue          = 0x05
	tokAttribute      = 0x06
	tokCDATA          = 0x07
	tokCharRef        = 0x08
	tokEntityRef      = 0x09
	tokPITarget       = 0x0a
	tokPIData         = 0x0b
	tokTemplate       = 0x0c
	tokSubstitution   = 0x0d
	tokOptionalSubst  = 0x0e
	tokFragmentHeader = 0x0f
	tokMoreFlag       = 0x40
)

// Limits that keep corrupt input from recursing or allocating without bound.
// Real events nest fewer than a dozen levels and resolve to a few hundred
// nodes.
const (
	maxDepth = 64
	maxNodes = 100_000
)

// tkind is the kind of a parsed binary XML node.
type tkind uint8

const (
	tElement tkind = iota
	tText
	tSubst
	tCDATA
	tCharRef
	tEntity
	tPI
	tInstance
)

// tnode is binary XML as parsed, before substitution: the body of a
// template definition or the tokens of a record. Templates are parsed once
// per chunk and resolved for every record that uses them.
type tnode struct {
	kind     tkind
	optional bool   // optional substitution: a NULL value drops the attribute
	sub      uint16 // substitution index, or character of a character reference
	name     string // element, entity or PI target name
	text     string // value text, CDATA or PI data
	attrs    []tattr
	children []tnode
	inst     *instance
}

type tattr struct {
	name  string
	value []tnode
}

// instance is a template instance: the template and this record's values.
type instance struct {
	tmpl   *template
	values []rawValue
}

// rawValue is one substitution value, still in its chunk.
type rawValue struct {
	typ  ValueType
	off  int // chunk offset of the data
	size int
}

// template is a template definition, cached per chunk by its offset.
type template struct {
	off   int
	guid  [16]byte
	nodes []tnode
	state uint8 // 0 new, 1 being parsed (a reference now is a loop), 2 done
	err   error
	// fields is how many fields the last event from this template had:
	// the capacity the next one starts with.
	fields int
}

// parser reads binary XML from a chunk. Offsets are relative to the chunk
// start, because names and template definitions are referenced by their
// chunk offset and are "inline" exactly when that offset is the current
// position.
type parser struct {
	c     *chunk
	b     []byte
	pos   int
	end   int
	nodes *int // shared budget of parsed nodes
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset 0x%x: %w: %s", p.pos, ErrCorrupt, fmt.Sprintf(format, args...))
}

func (p *parser) need(n int) error {
	if n < 0 || p.pos+n > p.end {
		return p.errorf("need %d bytes, %d left", n, p.end-p.pos)
	}
	return nil
}

func (p *parser) u8() (byte, error) {
	if err := p.need(1); err != nil {
		return 0, err
	}
	v := p.b[p.pos]
	p.pos++
	return v, nil
}

func (p *parser) u16() (uint16, error) {
	if err := p.need(2); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint16(p.b[p.pos:])
	p.pos += 2
	return v, nil
}

func (p *parser) u32() (uint32, error) {
	if err := p.need(4); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(p.b[p.pos:])
	p.pos += 4
	return v, nil
}

func (p *parser) peek() (byte, error) {
	if err := p.need(1); err != nil {
		return 0, err
	}
	return p.b[p.pos], nil
}

func (p *parser) count() error {
	*p.nodes++
	if *p.nodes > maxNodes {
		return p.errorf("more than %d nodes", maxNodes)
	}
	return nil
}

// utf16 reads a counted UTF-16 string (count of characters, then data).
func (p *parser) utf16() (string, error) {
	n, err := p.u16()
	if err != nil {
		return "", err
	}
	if err := p.need(2 * int(n)); err != nil {
		return "", err
	}
	s := utf16String(p.b[p.pos : p.pos+2*int(n)])
	p.pos += 2 * int(n)
	return s, nil
}

// name reads a name reference and skips the name when it is stored inline.
func (p *parser) name() (string, error) {
	off, err := p.u32()
	if err != nil {
		return "", err
	}
	s, size, err := p.c.name(int(off))
	if err != nil {
		return "", p.errorf("name: %v", err)
	}
	if int(off) == p.pos {
		if err := p.need(size); err != nil {
			return "", err
		}
		p.pos += size
	}
	return s, nil
}

// fragment parses a sequence of fragments, elements, template instances and
// processing instructions up to an end-of-file token or the end of data.
// hasDep says whether element starts carry the 2-byte dependency
// identifier: they do in records and templates, not in values of type
// BinXml.
func (p *parser) fragment(hasDep bool, depth int) ([]tnode, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	var out []tnode
	for p.pos < p.end {
		tok, _ := p.peek()
		switch tok &^ tokMoreFlag {
		case tokEOF:
			p.pos++
			return out, nil
		case tokFragmentHeader:
			if err := p.need(4); err != nil {
				return out, err
			}
			p.pos += 4
		case tokOpenStart:
			n, err := p.element(hasDep, depth+1)
			if err != nil {
				return out, err
			}
			out = append(out, n)
		case tokTemplate:
			n, err := p.templateInstance(depth + 1)
			if err != nil {
				return out, err
			}
			out = append(out, n)
		case tokPITarget:
			n, err := p.pi()
			if err != nil {
				return out, err
			}
			out = append(out, n)
		default:
			return out, p.errorf("unexpected token 0x%02x in fragment", tok)
		}
	}
	return out, nil
}

func (p *parser) element(hasDep bool, depth int) (tnode, error) {
	n := tnode{kind: tElement}
	if depth > maxDepth {
		return n, p.errorf("elements nested deeper than %d", maxDepth)
	}
	if err := p.count(); err != nil {
		return n, err
	}
	tok, _ := p.u8()
	if hasDep {
		if _, err := p.u16(); err != nil {
			return n, err
		}
	}
	if _, err := p.u32(); err != nil { // data size; the tokens end the element
		return n, err
	}
	var err error
	if n.name, err = p.name(); err != nil {
		return n, err
	}
	if tok&tokMoreFlag != 0 {
		if _, err := p.u32(); err != nil { // attribute list size
			return n, err
		}
		for {
			t, err := p.peek()
			if err != nil {
				return n, err
			}
			if t&^tokMoreFlag != tokAttribute {
				break
			}
			p.pos++
			a := tattr{}
			if a.name, err = p.name(); err != nil {
				return n, err
			}
			if a.value, err = p.values(depth); err != nil {
				return n, err
			}
			n.attrs = append(n.attrs, a)
			if t&tokMoreFlag == 0 {
				break
			}
		}
	}
	t, err := p.u8()
	if err != nil {
		return n, err
	}
	switch t {
	case tokCloseEmpty:
		return n, nil
	case tokCloseStart:
	default:
		return n, p.errorf("unexpected token 0x%02x after start of <%s>", t, n.name)
	}
	for {
		t, err := p.peek()
		if err != nil {
			return n, err
		}
		switch t &^ tokMoreFlag {
		case tokEndElement:
			p.pos++
			return n, nil
		case tokOpenStart:
			c, err := p.element(hasDep, depth+1)
			if err != nil {
				return n, err
			}
			n.children = append(n.children, c)
		case tokTemplate:
			c, err := p.templateInstance(depth + 1)
			if err != nil {
				return n, err
			}
			n.children = append(n.children, c)
		case tokPITarget:
			c, err := p.pi()
			if err != nil {
				return n, err
			}
			n.children = append(n.children, c)
		case tokValue, tokCDATA, tokCharRef, tokEntityRef, tokSubstitution, tokOptionalSubst:
			c, err := p.value()
			if err != nil {
				return n, err
			}
			n.children = append(n.children, c)
		default:
			return n, p.errorf("unexpected token 0x%02x in <%s>", t, n.name)
		}
	}
}

// values reads the data of an attribute: value text, substitutions and
// references up to the next attribute or the end of the start tag.
func (p *parser) values(depth int) ([]tnode, error) {
	var out []tnode
	for {
		t, err := p.peek()
		if err != nil {
			return out, err
		}
		switch t &^ tokMoreFlag {
		case tokValue, tokCDATA, tokCharRef, tokEntityRef, tokSubstitution, tokOptionalSubst:
			v, err := p.value()
			if err != nil {
				return out, err
			}
			out = append(out, v)
		default:
			return out, nil
		}
	}
}

// value reads one piece of character data.
func (p *parser) value() (tnode, error) {
	var n tnode
	if err := p.count(); err != nil {
		return n, err
	}
	tok, _ := p.u8()
	var err error
	switch tok &^ tokMoreFlag {
	case tokValue:
		var typ byte
		if typ, err = p.u8(); err != nil {
			return n, err
		}
		if ValueType(typ) != TypeString {
			return n, p.errorf("value text of type 0x%02x", typ)
		}
		n.kind = tText
		n.text, err = p.utf16()
	case tokCDATA:
		n.kind = tCDATA
		n.text, err = p.utf16()
	case tokCharRef:
		n.kind = tCharRef
		n.sub, err = p.u16()
	case tokEntityRef:
		n.kind = tEntity
		n.name, err = p.name()
	case tokSubstitution, tokOptionalSubst:
		n.kind = tSubst
		n.optional = tok == tokOptionalSubst
		if n.sub, err = p.u16(); err == nil {
			_, err = p.u8() // declared type; the instance data says the real one
		}
	}
	return n, err
}

func (p *parser) pi() (tnode, error) {
	n := tnode{kind: tPI}
	if err := p.count(); err != nil {
		return n, err
	}
	p.pos++
	var err error
	if n.name, err = p.name(); err != nil {
		return n, err
	}
	if t, err := p.peek(); err == nil && t == tokPIData {
		p.pos++
		n.text, err = p.utf16()
		return n, err
	}
	return n, nil
}

// templateInstance reads a template instance: a reference to (or the
// inline definition of) a template, then the substitution values.
func (p *parser) templateInstance(depth int) (tnode, error) {
	n := tnode{kind: tInstance}
	if depth > maxDepth {
		return n, p.errorf("templates nested deeper than %d", maxDepth)
	}
	if err := p.count(); err != nil {
		return n, err
	}
	if err := p.need(10); err != nil {
		return n, err
	}
	p.pos += 6 // token, unknown byte, template id (repeated in the GUID)
	defOff, _ := p.u32()
	tmpl, err := p.c.template(int(defOff), p.nodes, depth)
	if err != nil {
		return n, err
	}
	if int(defOff) == p.pos {
		size := int(binary.LittleEndian.Uint32(p.b[p.pos+20:]))
		if err := p.need(24 + size); err != nil {
			return n, err
		}
		p.pos += 24 + size
	}
	count, err := p.u32()
	if err != nil {
		return n, err
	}
	if int64(count)*4 > int64(p.end-p.pos) {
		return n, p.errorf("%d substitution values in %d bytes", count, p.end-p.pos)
	}
	vals := make([]rawValue, count)
	for i := range vals {
		size, _ := p.u16()
		typ, _ := p.u8()
		p.pos++
		vals[i] = rawValue{typ: ValueType(typ), size: int(size)}
	}
	for i := range vals {
		if err := p.need(vals[i].size); err != nil {
			return n, fmt.Errorf("substitution %d: %w", i, err)
		}
		vals[i].off = p.pos
		p.pos += vals[i].size
	}
	n.inst = &instance{tmpl: tmpl, values: vals}
	return n, nil
}
