package evtx

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
)

// ValueType is the type byte of a substitution value (MS-EVEN6 2.2.17 and
// libyal's EVTX documentation, "Value types"). The high bit marks an array.
type ValueType uint8

// The value types of binary XML.
const (
	TypeNull      ValueType = 0x00
	TypeString    ValueType = 0x01
	TypeAnsi      ValueType = 0x02
	TypeInt8      ValueType = 0x03
	TypeUint8     ValueType = 0x04
	TypeInt16     ValueType = 0x05
	TypeUint16    ValueType = 0x06
	TypeInt32     ValueType = 0x07
	TypeUint32    ValueType = 0x08
	TypeInt64     ValueType = 0x09
	TypeUint64    ValueType = 0x0a
	TypeReal32    ValueType = 0x0b
	TypeReal64    ValueType = 0x0c
	TypeBool      ValueType = 0x0d
	TypeBinary    ValueType = 0x0e
	TypeGUID      ValueType = 0x0f
	TypeSizeT     ValueType = 0x10
	TypeFileTime  ValueType = 0x11
	TypeSysTime   ValueType = 0x12
	TypeSID       ValueType = 0x13
	TypeHexInt32  ValueType = 0x14
	TypeHexInt64  ValueType = 0x15
	TypeEvtHandle ValueType = 0x20
	TypeBinXML    ValueType = 0x21
	TypeEvtXML    ValueType = 0x23
	TypeArray     ValueType = 0x80
)

// fixedSize is the width of one element of a fixed-size type, 0 for
// variable-size types.
func fixedSize(t ValueType) int {
	switch t {
	case TypeInt8, TypeUint8:
		return 1
	case TypeInt16, TypeUint16:
		return 2
	case TypeInt32, TypeUint32, TypeReal32, TypeBool, TypeHexInt32:
		return 4
	case TypeInt64, TypeUint64, TypeReal64, TypeFileTime, TypeHexInt64:
		return 8
	case TypeGUID, TypeSysTime:
		return 16
	}
	return 0
}

// filetimeEpoch is the number of 100 ns intervals between 1601-01-01 and
// 1970-01-01.
const filetimeEpoch = 116444736000000000

// filetime converts a FILETIME. Zero stays the zero time; values beyond what
// time.Time can represent in nanoseconds are clamped by the arithmetic, so a
// corrupt value gives a strange date, never a panic.
func filetime(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	secs := int64(v/10000000) - filetimeEpoch/10000000
	nsec := int64(v%10000000) * 100
	return time.Unix(secs, nsec).UTC()
}

// appendTime renders a time the way Windows renders SystemTime
// attributes: seven fractional digits and a Z.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "1601-01-01T00:00:00.0000000Z"...)
	}
	return t.AppendFormat(dst, "2006-01-02T15:04:05.0000000Z")
}

// utf16String decodes UTF-16LE and drops trailing NULs.
func utf16String(b []byte) string {
	n := len(b) / 2
	for n > 0 && b[2*n-1] == 0 && b[2*n-2] == 0 {
		n--
	}
	// Fast path for ASCII, which is nearly all event text.
	ascii := true
	for i := 0; i < n; i++ {
		if b[2*i+1] != 0 || b[2*i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = b[2*i]
		}
		return string(buf)
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, r := range utf16.Decode(u) {
		sb.WriteRune(r)
	}
	return sb.String()
}

// ansiString decodes a codepage string as Latin-1 (the codepage is not
// stored in the file) and drops trailing NULs.
func ansiString(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

func formatGUID(b []byte) string {
	return string(appendGUID(make([]byte, 0, 38), b))
}

const upperHex = "0123456789ABCDEF"

// appendGUID renders a GUID as {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}
// (the first three groups little-endian).
func appendGUID(dst, b []byte) []byte {
	hexByte := func(dst []byte, c byte) []byte { return append(dst, upperHex[c>>4], upperHex[c&0xf]) }
	dst = append(dst, '{')
	for i := 3; i >= 0; i-- {
		dst = hexByte(dst, b[i])
	}
	dst = append(dst, '-')
	dst = hexByte(hexByte(dst, b[5]), b[4])
	dst = append(dst, '-')
	dst = hexByte(hexByte(dst, b[7]), b[6])
	dst = append(dst, '-')
	dst = hexByte(hexByte(dst, b[8]), b[9])
	dst = append(dst, '-')
	for _, c := range b[10:16] {
		dst = hexByte(dst, c)
	}
	return append(dst, '}')
}

// formatSID renders a SID as S-1-…; n is the bytes it used.
func formatSID(b []byte) (s string, n int, err error) {
	if len(b) < 8 {
		return "", 0, fmt.Errorf("%w: SID of %d bytes", ErrCorrupt, len(b))
	}
	count := int(b[1])
	n = 8 + 4*count
	if len(b) < n {
		return "", 0, fmt.Errorf("%w: SID with %d sub-authorities in %d bytes", ErrCorrupt, count, len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	buf := make([]byte, 0, 16+11*count)
	buf = append(buf, "S-"...)
	buf = strconv.AppendUint(buf, uint64(b[0]), 10)
	buf = append(buf, '-')
	buf = strconv.AppendUint(buf, auth, 10)
	for i := 0; i < count; i++ {
		buf = append(buf, '-')
		buf = strconv.AppendUint(buf, uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return string(buf), n, nil
}

// systemTime is a SYSTEMTIME value: year, month, day of week, day, hour,
// minute, second and milliseconds as 16-bit integers.
func systemTime(b []byte) time.Time {
	f := func(i int) int { return int(binary.LittleEndian.Uint16(b[2*i:])) }
	return time.Date(f(0), time.Month(f(1)), f(3), f(4), f(5), f(6), f(7)*int(time.Millisecond), time.UTC)
}

// appendSystemTime renders a SYSTEMTIME as written, without normalizing:
// YYYY-MM-DDThh:mm:ss.mmmZ.
func appendSystemTime(dst, b []byte) []byte {
	f := func(i int) uint64 { return uint64(binary.LittleEndian.Uint16(b[2*i:])) }
	dst = appendPadded(dst, f(0), 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, f(1), 2)
	dst = append(dst, '-')
	dst = appendPadded(dst, f(3), 2)
	dst = append(dst, 'T')
	dst = appendPadded(dst, f(4), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, f(5), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, f(6), 2)
	dst = append(dst, '.')
	dst = appendPadded(dst, f(7), 3)
	return append(dst, 'Z')
}

// appendPadded appends v in decimal with leading zeros to width digits.
func appendPadded(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	d := strconv.AppendUint(buf[:0], v, 10)
	for i := len(d); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, d...)
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "1.#INF"...)
	case math.IsInf(f, -1):
		return append(dst, "-1.#INF"...)
	case math.IsNaN(f):
		return append(dst, "-1.#IND"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// scalar decodes one value of a non-array, non-BinXML type into its text
// and its typed form.
func scalar(t ValueType, b []byte) (string, event.Value, error) {
	v, err := scalarValue(t, b)
	if err != nil {
		return "", event.Value{}, err
	}
	if v.Kind() == event.KindString {
		return v.Str(), v, nil
	}
	return string(appendScalarText(nil, t, b)), v, nil
}

// scalarValue decodes one value of a non-array, non-BinXML type into its
// typed form. Types whose text is not the value's string (numbers, bool,
// times) are rendered by appendScalarText.
func scalarValue(t ValueType, b []byte) (event.Value, error) {
	if w := fixedSize(t); w != 0 && len(b) < w {
		return event.Value{}, fmt.Errorf("%w: value of type 0x%02x needs %d bytes, has %d", ErrCorrupt, uint8(t), w, len(b))
	}
	le := binary.LittleEndian
	switch t {
	case TypeNull:
		return event.Null(), nil
	case TypeString:
		return event.String(utf16String(b)), nil
	case TypeAnsi:
		return event.String(ansiString(b)), nil
	case TypeInt8, TypeUint8, TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeInt64:
		return event.Int(intOf(t, b)), nil
	case TypeUint64:
		u := le.Uint64(b)
		if u > math.MaxInt64 {
			return event.String(strconv.FormatUint(u, 10)), nil
		}
		return event.Int(int64(u)), nil
	case TypeReal32:
		return event.Float(float64(math.Float32frombits(le.Uint32(b)))), nil
	case TypeReal64:
		return event.Float(math.Float64frombits(le.Uint64(b))), nil
	case TypeBool:
		return event.Bool(le.Uint32(b) != 0), nil
	case TypeGUID:
		return event.String(formatGUID(b)), nil
	case TypeHexInt32:
		return event.String(hexString(uint64(le.Uint32(b)))), nil
	case TypeHexInt64:
		return event.String(hexString(le.Uint64(b))), nil
	case TypeSizeT:
		// size_t is stored as 4 or 8 bytes and rendered as a hex integer.
		switch {
		case len(b) >= 8:
			return event.String(hexString(le.Uint64(b))), nil
		case len(b) >= 4:
			return event.String(hexString(uint64(le.Uint32(b)))), nil
		}
		return event.Value{}, fmt.Errorf("%w: size_t of %d bytes", ErrCorrupt, len(b))
	case TypeFileTime:
		return event.Time(filetime(le.Uint64(b))), nil
	case TypeSysTime:
		return event.Time(systemTime(b)), nil
	case TypeSID:
		s, _, err := formatSID(b)
		return event.String(s), err
	case TypeBinary, TypeEvtHandle, TypeEvtXML:
		return event.String(strings.ToUpper(hex.EncodeToString(b))), nil
	}
	return event.Value{}, fmt.Errorf("%w: unknown value type 0x%02x", ErrCorrupt, uint8(t))
}

// intOf reads a signed or unsigned integer of up to 64 bits.
func intOf(t ValueType, b []byte) int64 {
	le := binary.LittleEndian
	switch t {
	case TypeInt8:
		return int64(int8(b[0]))
	case TypeUint8:
		return int64(b[0])
	case TypeInt16:
		return int64(int16(le.Uint16(b)))
	case TypeUint16:
		return int64(le.Uint16(b))
	case TypeInt32:
		return int64(int32(le.Uint32(b)))
	case TypeUint32:
		return int64(le.Uint32(b))
	}
	return int64(le.Uint64(b))
}

func hexString(u uint64) string {
	var buf [18]byte
	return string(strconv.AppendUint(append(buf[:0], "0x"...), u, 16))
}

// appendScalarText appends the text Windows renders for a value that
// scalarValue decoded without error.
func appendScalarText(dst []byte, t ValueType, b []byte) []byte {
	le := binary.LittleEndian
	switch t {
	case TypeInt8, TypeUint8, TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeInt64:
		return strconv.AppendInt(dst, intOf(t, b), 10)
	case TypeUint64:
		return strconv.AppendUint(dst, le.Uint64(b), 10)
	case TypeReal32:
		return appendFloat(dst, float64(math.Float32frombits(le.Uint32(b))), 32)
	case TypeReal64:
		return appendFloat(dst, math.Float64frombits(le.Uint64(b)), 64)
	case TypeBool:
		return strconv.AppendBool(dst, le.Uint32(b) != 0)
	case TypeFileTime:
		return appendTime(dst, filetime(le.Uint64(b)))
	case TypeSysTime:
		return appendSystemTime(dst, b)
	}
	v, _ := scalarValue(t, b)
	return append(dst, v.Str()...)
}

// array decodes an array value into the texts and typed values of its
// elements. Strings are NUL-terminated; SIDs carry their own length; the
// rest have a fixed width.
func array(t ValueType, b []byte) ([]string, []event.Value, error) {
	var texts []string
	var vals []event.Value
	add := func(s string, v event.Value) {
		texts = append(texts, s)
		vals = append(vals, v)
	}
	switch t {
	case TypeString:
		start := 0
		for i := 0; i+1 < len(b); i += 2 {
			if b[i] == 0 && b[i+1] == 0 {
				s := utf16String(b[start:i])
				add(s, event.String(s))
				start = i + 2
			}
		}
		if start+1 < len(b) {
			s := utf16String(b[start:])
			add(s, event.String(s))
		}
		return texts, vals, nil
	case TypeAnsi:
		for _, part := range strings.Split(strings.TrimRight(string(b), "\x00"), "\x00") {
			s := ansiString([]byte(part))
			add(s, event.String(s))
		}
		return texts, vals, nil
	case TypeSID:
		for len(b) > 0 {
			s, n, err := formatSID(b)
			if err != nil {
				return texts, vals, err
			}
			add(s, event.String(s))
			b = b[n:]
		}
		return texts, vals, nil
	case TypeSizeT:
		// The width of size_t is not stored; 8 bytes is what 64-bit
		// Windows writes.
		t = TypeHexInt64
		if len(b)%8 != 0 {
			t = TypeHexInt32
		}
	}
	w := fixedSize(t)
	if w == 0 {
		return nil, nil, fmt.Errorf("%w: array of type 0x%02x", ErrCorrupt, uint8(t))
	}
	if len(b)%w != 0 {
		return nil, nil, fmt.Errorf("%w: array of type 0x%02x has %d bytes", ErrCorrupt, uint8(t), len(b))
	}
	for i := 0; i+w <= len(b); i += w {
		s, v, err := scalar(t, b[i:i+w])
		if err != nil {
			return texts, vals, err
		}
		add(s, v)
	}
	return texts, vals, nil
}
