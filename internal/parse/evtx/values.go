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

// formatTime renders a time the way Windows renders SystemTime attributes:
// seven fractional digits and a Z.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "1601-01-01T00:00:00.0000000Z"
	}
	return t.Format("2006-01-02T15:04:05.0000000Z")
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
	return fmt.Sprintf("{%08X-%04X-%04X-%02X%02X-%X}",
		binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8], b[9], b[10:16])
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

func formatSystemTime(b []byte) (time.Time, string) {
	f := func(i int) int { return int(binary.LittleEndian.Uint16(b[2*i:])) }
	year, month, day := f(0), f(1), f(3)
	hour, minute, sec, ms := f(4), f(5), f(6), f(7)
	t := time.Date(year, time.Month(month), day, hour, minute, sec, ms*int(time.Millisecond), time.UTC)
	return t, fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, day, hour, minute, sec, ms)
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsInf(f, 1):
		return "1.#INF"
	case math.IsInf(f, -1):
		return "-1.#INF"
	case math.IsNaN(f):
		return "-1.#IND"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// scalar decodes one value of a non-array, non-BinXML type into its text
// and its typed form.
func scalar(t ValueType, b []byte) (string, event.Value, error) {
	if w := fixedSize(t); w != 0 && len(b) < w {
		return "", event.Value{}, fmt.Errorf("%w: value of type 0x%02x needs %d bytes, has %d", ErrCorrupt, uint8(t), w, len(b))
	}
	switch t {
	case TypeNull:
		return "", event.Null(), nil
	case TypeString:
		s := utf16String(b)
		return s, event.String(s), nil
	case TypeAnsi:
		s := ansiString(b)
		return s, event.String(s), nil
	case TypeInt8:
		return intValue(int64(int8(b[0])))
	case TypeUint8:
		return intValue(int64(b[0]))
	case TypeInt16:
		return intValue(int64(int16(binary.LittleEndian.Uint16(b))))
	case TypeUint16:
		return intValue(int64(binary.LittleEndian.Uint16(b)))
	case TypeInt32:
		return intValue(int64(int32(binary.LittleEndian.Uint32(b))))
	case TypeUint32:
		return intValue(int64(binary.LittleEndian.Uint32(b)))
	case TypeInt64:
		return intValue(int64(binary.LittleEndian.Uint64(b)))
	case TypeUint64:
		u := binary.LittleEndian.Uint64(b)
		s := strconv.FormatUint(u, 10)
		if u > math.MaxInt64 {
			return s, event.String(s), nil
		}
		return s, event.Int(int64(u)), nil
	case TypeReal32:
		f := float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		return formatFloat(f, 32), event.Float(f), nil
	case TypeReal64:
		f := math.Float64frombits(binary.LittleEndian.Uint64(b))
		return formatFloat(f, 64), event.Float(f), nil
	case TypeBool:
		v := binary.LittleEndian.Uint32(b) != 0
		return strconv.FormatBool(v), event.Bool(v), nil
	case TypeGUID:
		s := formatGUID(b)
		return s, event.String(s), nil
	case TypeHexInt32:
		s := "0x" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b)), 16)
		return s, event.String(s), nil
	case TypeHexInt64:
		s := "0x" + strconv.FormatUint(binary.LittleEndian.Uint64(b), 16)
		return s, event.String(s), nil
	case TypeSizeT:
		// size_t is stored as 4 or 8 bytes and rendered as a hex integer.
		var u uint64
		switch {
		case len(b) >= 8:
			u = binary.LittleEndian.Uint64(b)
		case len(b) >= 4:
			u = uint64(binary.LittleEndian.Uint32(b))
		default:
			return "", event.Value{}, fmt.Errorf("%w: size_t of %d bytes", ErrCorrupt, len(b))
		}
		s := "0x" + strconv.FormatUint(u, 16)
		return s, event.String(s), nil
	case TypeFileTime:
		tm := filetime(binary.LittleEndian.Uint64(b))
		return formatTime(tm), event.Time(tm), nil
	case TypeSysTime:
		tm, s := formatSystemTime(b)
		return s, event.Time(tm), nil
	case TypeSID:
		s, _, err := formatSID(b)
		return s, event.String(s), err
	case TypeBinary, TypeEvtHandle, TypeEvtXML:
		s := strings.ToUpper(hex.EncodeToString(b))
		return s, event.String(s), nil
	}
	return "", event.Value{}, fmt.Errorf("%w: unknown value type 0x%02x", ErrCorrupt, uint8(t))
}

func intValue(i int64) (string, event.Value, error) {
	return strconv.FormatInt(i, 10), event.Int(i), nil
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
