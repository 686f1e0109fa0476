package stix

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tInt
	tFloat
	tTime
	tHex
	tBinary
	tOp
	tLBrack
	tRBrack
	tLParen
	tRParen
	tColon
	tDot
	tComma
	tStar
)

type token struct {
	kind tokKind
	s    string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of pattern"
	case tString:
		return strconv.Quote(t.s)
	}
	return "'" + t.s + "'"
}

const maxPatternLen = 1 << 20

func lex(src string) ([]token, error) {
	if len(src) > maxPatternLen {
		return nil, fmt.Errorf("%w: pattern longer than %d bytes", ErrSyntax, maxPatternLen)
	}
	var toks []token
	i := 0
	bad := func(pos int, what string) error {
		return fmt.Errorf("%w at offset %d: %s", ErrSyntax, pos, what)
	}
	for i < len(src) {
		c := src[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '[':
			toks = append(toks, token{tLBrack, "[", start})
			i++
		case c == ']':
			toks = append(toks, token{tRBrack, "]", start})
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", start})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", start})
			i++
		case c == ':':
			toks = append(toks, token{tColon, ":", start})
			i++
		case c == '.':
			toks = append(toks, token{tDot, ".", start})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", start})
			i++
		case c == '*':
			toks = append(toks, token{tStar, "*", start})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(src) {
				two := src[i : i+2]
				switch two {
				case "==", "!=", "<>", "<=", ">=":
					op = two
				}
			}
			if op == "!" {
				return nil, bad(start, "'!' must be followed by '='")
			}
			toks = append(toks, token{tOp, op, start})
			i += len(op)
		case c == '\'':
			s, n, err := lexString(src[i:])
			if err != nil {
				return nil, bad(start, err.Error())
			}
			toks = append(toks, token{tString, s, start})
			i += n
		case (c == 't' || c == 'h' || c == 'b') && i+1 < len(src) && src[i+1] == '\'':
			s, n, err := lexString(src[i+1:])
			if err != nil {
				return nil, bad(start, err.Error())
			}
			k := map[byte]tokKind{'t': tTime, 'h': tHex, 'b': tBinary}[c]
			switch k {
			case tHex:
				if _, err := hex.DecodeString(s); err != nil {
					return nil, bad(start, "bad hex literal")
				}
				s = strings.ToLower(s)
			case tBinary:
				if _, err := base64.StdEncoding.DecodeString(s); err != nil {
					return nil, bad(start, "bad base64 literal")
				}
			}
			toks = append(toks, token{k, s, start})
			i += n + 1
		case c == '-' || c == '+' || c >= '0' && c <= '9':
			j := i + 1
			float := false
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' && !float) {
				if src[j] == '.' {
					float = true
				}
				j++
			}
			num := src[i:j]
			if num == "-" || num == "+" || strings.HasSuffix(num, ".") {
				return nil, bad(start, "bad number")
			}
			k := tInt
			if float {
				k = tFloat
			}
			toks = append(toks, token{k, num, start})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], start})
			i = j
		default:
			return nil, bad(start, fmt.Sprintf("unexpected character %q", c))
		}
	}
	toks = append(toks, token{tEOF, "", len(src)})
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '-' }

// lexString reads a quoted string starting at s[0] == '\” with \' and \\
// escapes; it returns the content and the bytes consumed.
func lexString(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) || s[i+1] != '\'' && s[i+1] != '\\' {
				return "", 0, fmt.Errorf("bad escape in string")
			}
			i++
			b.WriteByte(s[i])
		case '\'':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}
