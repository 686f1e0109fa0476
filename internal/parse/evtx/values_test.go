package evtx

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/event"
)

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// typeCases covers every value type the reader knows, with the text
// Windows renders for it.
var typeCases = []struct {
	name string
	typ  ValueType
	data []byte
	want string
	kind event.Kind
}{
	{"String", TypeString, utf16le("héllo <&> wörld\x00"), "héllo &lt;&amp;&gt; wörld", event.KindString},
	{"Ansi", TypeAnsi, []byte("ansi text\x00"), "ansi text", event.KindString},
	{"Int8", TypeInt8, []byte{0xfb}, "-5", event.KindInt},
	{"UInt8", TypeUint8, []byte{0xfb}, "251", event.KindInt},
	{"Int16", TypeInt16, le16(0xfffe), "-2", event.KindInt},
	{"UInt16", TypeUint16, le16(0xfffe), "65534", event.KindInt},
	{"Int32", TypeInt32, le32(0xfffffffd), "-3", event.KindInt},
	{"UInt32", TypeUint32, le32(4000000000), "4000000000", event.KindInt},
	{"Int64", TypeInt64, le64(math.MaxUint64), "-1", event.KindInt},
	{"UInt64", TypeUint64, le64(math.MaxUint64), "18446744073709551615", event.KindString},
	{"Real32", TypeReal32, le32(math.Float32bits(1.5)), "1.5", event.KindFloat},
	{"Real64", TypeReal64, le64(math.Float64bits(-0.25)), "-0.25", event.KindFloat},
	{"Bool", TypeBool, le32(1), "true", event.KindBool},
	{"Binary", TypeBinary, []byte{0xde, 0xad, 0xbe, 0xef}, "DEADBEEF", event.KindString},
	{"GUID", TypeGUID, []byte{0x25, 0x96, 0x84, 0x54, 0x78, 0x54, 0x94, 0x49, 0xa5, 0xba, 0x3e, 0x3b, 0x03, 0x28, 0xc3, 0x0d}, "{54849625-5478-4994-A5BA-3E3B0328C30D}", event.KindString},
	{"SizeT", TypeSizeT, le64(0x1f4), "0x1f4", event.KindString},
	{"FileTime", TypeFileTime, le64(132000000000000000 + 1234567), "2019-04-17T18:40:00.1234567Z", event.KindTime},
	{"SysTime", TypeSysTime, cat(le16(2020), le16(2), le16(6), le16(29), le16(13), le16(4), le16(5), le16(678)), "2020-02-29T13:04:05.678Z", event.KindTime},
	{"SID", TypeSID, cat([]byte{1, 2, 0, 0, 0, 0, 0, 5}, le32(32), le32(544)), "S-1-5-32-544", event.KindString},
	{"HexInt32", TypeHexInt32, le32(0x1010), "0x1010", event.KindString},
	{"HexInt64", TypeHexInt64, le64(0x8020000000000000), "0x8020000000000000", event.KindString},
	{"StringArray", TypeArray | TypeString, utf16le("a\x00bc\x00"), "a, bc", event.KindArray},
	{"UInt16Array", TypeArray | TypeUint16, cat(le16(1), le16(2), le16(3)), "1, 2, 3", event.KindArray},
	{"HexInt32Array", TypeArray | TypeHexInt32, cat(le32(10), le32(255)), "0xa, 0xff", event.KindArray},
	{"SIDArray", TypeArray | TypeSID, cat([]byte{1, 1, 0, 0, 0, 0, 0, 5}, le32(18), []byte{1, 1, 0, 0, 0, 0, 0, 1}, le32(0)), "S-1-5-18, S-1-1-0", event.KindArray},
	{"GUIDArray", TypeArray | TypeGUID, make([]byte, 32), "{00000000-0000-0000-0000-000000000000}, {00000000-0000-0000-0000-000000000000}", event.KindArray},
}

// typesRecord writes a record whose template has one EventData/Data per
// type case, plus an optional attribute with a NULL value, a BinXml value,
// CDATA, character and entity references and a processing instruction.
func typesRecord(x *bx) {
	x.fragment()
	n := len(typeCases)
	x.templateDef(func(x *bx) {
		x.fragment()
		x.open("Event", false, true)
		x.closeStart()
		x.open("System", false, true)
		x.closeStart()
		x.open("Provider", true, true)
		x.attr("Name", true)
		x.text("Test-Provider")
		x.attr("Guid", false)
		x.subst(uint16(n), TypeGUID, true) // NULL: the attribute goes
		x.closeEmpty()
		x.open("EventID", false, true)
		x.closeStart()
		x.subst(uint16(n+1), TypeUint16, false)
		x.end()
		x.open("Channel", false, true)
		x.closeStart()
		x.text("Security")
		x.end()
		x.open("Computer", false, true)
		x.closeStart()
		x.text("HOST1")
		x.end()
		x.end() // System
		x.open("EventData", false, true)
		x.closeStart()
		for i, tc := range typeCases {
			x.open("Data", true, true)
			x.attr("Name", false)
			x.text(tc.name)
			x.closeStart()
			x.subst(uint16(i), tc.typ, true)
			x.end()
		}
		x.open("Data", true, true)
		x.attr("Name", false)
		x.text("Refs")
		x.closeStart()
		x.u8(0x47) // CDATA
		x.u16(3)
		x.b = append(x.b, utf16le("a<b")...)
		x.u8(0x48) // &#65;
		x.u16(65)
		x.u8(0x09) // &amp;
		x.name("amp")
		x.end()
		x.u8(0x0a) // <?target data?>
		x.name("target")
		x.u8(0x0b)
		x.u16(4)
		x.b = append(x.b, utf16le("data")...)
		x.subst(uint16(n+2), TypeBinXML, false)
		x.end() // EventData
		x.end() // Event
		x.u8(0x00)
	})
	var vals []testValue
	for _, tc := range typeCases {
		vals = append(vals, testValue{tc.typ, tc.data})
	}
	vals = append(vals, testValue{TypeNull, nil}, testValue{TypeUint16, le16(4688)})
	// A BinXml value (an element without the dependency identifier) goes
	// last, so its chunk offset is known once the others are written.
	vals = append(vals, testValue{TypeBinXML, nil})
	descAt := x.pos() + 4 + 4*(len(vals)-1)
	x.values(vals)
	nested := &bx{base: x.pos()}
	nested.open("Data", true, false)
	nested.attr("Name", false)
	nested.text("Nested")
	nested.closeStart()
	nested.text("inner")
	nested.end()
	x.b = append(x.b, nested.b...)
	binary.LittleEndian.PutUint16(x.b[descAt-x.base:], uint16(len(nested.b)))
}

func TestValueTypes(t *testing.T) {
	data := buildFile(buildChunk(1, typesRecord, func(x *bx) {
		// A second record reusing the cached template by reference.
		x.fragment()
		x.templateRef(chunkHeaderSize + recordHeader + 4 + 10)
		var vals []testValue
		for _, tc := range typeCases {
			vals = append(vals, testValue{tc.typ, tc.data})
		}
		vals = append(vals, testValue{TypeNull, nil}, testValue{TypeUint16, le16(4689)}, testValue{TypeNull, nil})
		x.values(vals)
	}))
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	if err := f.Records(func(r Record) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		if r.Err != nil {
			t.Fatalf("record %d: %v", r.RecordID, r.Err)
		}
	}
	xml := recs[0].XML()
	for _, tc := range typeCases {
		var want string
		if tc.kind == event.KindArray {
			for _, it := range strings.Split(tc.want, ", ") {
				want += `<Data Name="` + tc.name + `">` + it + "</Data>"
			}
		} else {
			want = `<Data Name="` + tc.name + `">` + tc.want + "</Data>"
		}
		if !strings.Contains(xml, want) {
			t.Errorf("%s: want %s in\n%s", tc.name, want, xml)
		}
	}
	for _, want := range []string{
		`<Provider Name="Test-Provider" />`,
		`<EventID>4688</EventID>`,
		`<Data Name="Refs"><![CDATA[a<b]]>&#65;&amp;</Data>`,
		`<?target data?>`,
		`<Data Name="Nested">inner</Data>`,
	} {
		if !strings.Contains(xml, want) {
			t.Errorf("want %s in\n%s", want, xml)
		}
	}

	ev := recs[0].Event(event.Event{})
	for _, tc := range typeCases {
		v, ok := ev.Get(tc.name)
		if !ok {
			t.Errorf("no field %s", tc.name)
			continue
		}
		if v.Kind() != tc.kind {
			t.Errorf("%s: kind %s, want %s", tc.name, v.Kind(), tc.kind)
		}
	}
	if got := ev.GetString("Refs"); got != "a<bA&" {
		t.Errorf("Refs = %q", got)
	}
	if got := ev.GetString("Nested"); got != "inner" {
		t.Errorf("Nested = %q", got)
	}
	if v, _ := ev.Get("EventID"); v.Kind() != event.KindInt {
		t.Errorf("EventID kind %s", v.Kind())
	}
	if ev.LogSource != (event.LogSource{Product: "windows", Category: "process_creation", Service: "security"}) {
		t.Errorf("logsource %+v", ev.LogSource)
	}
	if ev.Message != "EventID 4688 on HOST1" {
		t.Errorf("message %q", ev.Message)
	}
	if v, _ := recs[1].Event(event.Event{}).Get("EventID"); v.String() != "4689" {
		t.Errorf("second record EventID %s", v)
	}
}
