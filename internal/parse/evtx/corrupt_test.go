package evtx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/event"
)

// simpleRecord writes a small event through a template, with one value.
func simpleRecord(computer string) func(x *bx) {
	return func(x *bx) {
		x.fragment()
		x.templateDef(func(x *bx) {
			x.fragment()
			x.open("Event", false, true)
			x.closeStart()
			x.open("System", false, true)
			x.closeStart()
			x.open("Computer", false, true)
			x.closeStart()
			x.subst(0, TypeString, false)
			x.end()
			x.end()
			x.end()
			x.u8(0)
		})
		x.values([]testValue{{TypeString, utf16le(computer)}})
	}
}

// readAll reads every record and returns them with Records' error.
func readAll(t *testing.T, data []byte) ([]Record, error) {
	t.Helper()
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var recs []Record
	err = f.Records(func(r Record) error {
		_ = r.XML()
		_ = r.Event(event.Event{})
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

func twoChunkFile() []byte {
	return buildFile(
		buildChunk(1, simpleRecord("A"), simpleRecord("B")),
		buildChunk(3, simpleRecord("C"), typesRecord),
	)
}

func TestOpenRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":     nil,
		"short":     []byte("ElfFile\x00"),
		"signature": bytes.Repeat([]byte{'x'}, 4096),
		"version":   append([]byte(fileMagic), make([]byte, 4088)...),
	} {
		if _, err := Open(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrNotEVTX) {
			t.Errorf("%s: err = %v, want ErrNotEVTX", name, err)
		}
	}
}

func TestBadChunkHeaderChecksumSkipsChunk(t *testing.T) {
	data := twoChunkFile()
	data[fileHeaderSize+60] ^= 0xff // unused header bytes, covered by the CRC
	recs, err := readAll(t, data)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "chunk 0") {
		t.Fatalf("err = %v, want a checksum error naming chunk 0", err)
	}
	if len(recs) != 2 || recs[0].RecordID != 3 {
		t.Fatalf("got %d records, want the 2 of chunk 1", len(recs))
	}
}

func TestBadRecordsChecksumIsReported(t *testing.T) {
	data := twoChunkFile()
	i := bytes.Index(data, utf16le("B"))
	// Change the value "B" into "Z" without fixing the checksum.
	data[i] = 'Z'
	recs, err := readAll(t, data)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "chunk 0: ") {
		t.Fatalf("err = %v, want a records checksum error naming chunk 0", err)
	}
	if len(recs) != 4 {
		t.Fatalf("got %d records, want 4", len(recs))
	}
}

func TestBadFileHeaderChecksumIsReported(t *testing.T) {
	data := twoChunkFile()
	data[100] = 1
	recs, err := readAll(t, data)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "file header") || len(recs) != 4 {
		t.Fatalf("err = %v, %d records", err, len(recs))
	}
}

// patch changes a chunk and fixes its checksums, so that only the patched
// structure is wrong.
func patchChunk(c []byte, at int, v uint32) []byte {
	c = bytes.Clone(c)
	binary.LittleEndian.PutUint32(c[at:], v)
	fixChunkChecksums(c)
	return c
}

func TestHugeSizes(t *testing.T) {
	good := buildChunk(1, simpleRecord("A"), simpleRecord("B"))
	rec := chunkHeaderSize
	cases := map[string][]byte{
		"record size":        patchChunk(good, rec+4, 0xfffffff0),
		"record size small":  patchChunk(good, rec+4, 8),
		"free space offset":  patchChunk(good, 48, 0xffffffff),
		"template data size": patchChunk(good, rec+recordHeader+4+10+20, 0x7fffffff),
		"template offset":    patchChunk(good, rec+recordHeader+4+6, 0xfffffff0),
	}
	// The substitution count follows the inline template definition.
	tmplSize := int(binary.LittleEndian.Uint32(good[rec+recordHeader+4+10+20:]))
	countAt := rec + recordHeader + 4 + 10 + 24 + tmplSize
	cases["substitution count"] = patchChunk(good, countAt, 0x7fffffff)
	cases["value size"] = patchChunk(good, countAt+4, 0xfff0)
	// The name of the first element: character count 0xffff.
	nameAt := rec + recordHeader + 4 + 10 + 24 + 4 + 1 + 2 + 4 + 4
	cases["name length"] = patchChunk(good, nameAt+6, 0xffff)

	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			recs, err := readAll(t, buildFile(c))
			bad := err != nil
			for _, r := range recs {
				if r.Err != nil {
					bad = true
					if !strings.Contains(r.Err.Error(), "chunk 0 record ") {
						t.Errorf("record error %q does not name chunk and record", r.Err)
					}
				}
			}
			if !bad {
				t.Errorf("no error reported (%d records)", len(recs))
			}
		})
	}
}

func TestTemplateRecursion(t *testing.T) {
	loop := func(x *bx) {
		x.fragment()
		x.u8(0x0c)
		x.u8(1)
		x.u32(1)
		def := x.pos() + 4
		x.u32(uint32(def))
		x.u32(0)
		x.b = append(x.b, make([]byte, 16)...)
		sizeAt := x.pos()
		x.u32(0)
		start := x.pos()
		x.fragment()
		x.open("Event", false, true)
		x.closeStart()
		x.templateRef(def) // the template instantiates itself
		x.values(nil)
		x.end()
		x.u8(0)
		x.put32(sizeAt, uint32(x.pos()-start))
		x.values(nil)
	}
	recs, err := readAll(t, buildFile(buildChunk(1, loop, simpleRecord("after"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Err == nil || !strings.Contains(recs[0].Err.Error(), "refers to itself") {
		t.Fatalf("want a recursion error on the first record, got %d records: %v", len(recs), recs[0].Err)
	}
	if recs[1].Err != nil || recs[1].Root.Child("System").Child("Computer").InnerText() != "after" {
		t.Fatalf("the next record was not read: %v", recs[1].Err)
	}
}

func TestDeepNesting(t *testing.T) {
	deep := func(x *bx) {
		x.fragment()
		for i := 0; i < 500; i++ {
			x.open("E", false, true)
			x.closeStart()
		}
		for i := 0; i < 500; i++ {
			x.end()
		}
		x.u8(0)
	}
	recs, err := readAll(t, buildFile(buildChunk(1, deep)))
	if err != nil || len(recs) != 1 || recs[0].Err == nil || !strings.Contains(recs[0].Err.Error(), "deeper") {
		t.Fatalf("err %v, records %d", err, len(recs))
	}
}

func TestTruncation(t *testing.T) {
	data := twoChunkFile()
	full, err := readAll(t, data)
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(data); cut += 211 {
		recs, _ := readAll(t, data[:cut])
		if len(recs) > len(full) {
			t.Fatalf("cut %d: %d records from a prefix of a %d-record file", cut, len(recs), len(full))
		}
	}
	// Cut inside the second chunk's records: the first chunk is intact.
	recs, err := readAll(t, data[:fileHeaderSize+chunkSize+chunkHeaderSize+40])
	if err == nil || len(recs) != 2 {
		t.Fatalf("err %v, %d records", err, len(recs))
	}
}

func TestFlippedBytes(t *testing.T) {
	data := twoChunkFile()
	for i := fileHeaderSize; i < fileHeaderSize+chunkSize+chunkHeaderSize+600; i++ {
		if i == fileHeaderSize+chunkHeaderSize+600 {
			i = fileHeaderSize + chunkSize // skip the empty space
		}
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			d := bytes.Clone(data)
			d[i] ^= mask
			// Fix the checksums so that the damage reaches the parser.
			ci := (i - fileHeaderSize) / chunkSize
			c := d[fileHeaderSize+ci*chunkSize : fileHeaderSize+(ci+1)*chunkSize]
			fixChunkChecksums(c)
			_, _ = readAll(t, d)
		}
	}
}

func TestParseSingleRecordNeedsFile(t *testing.T) {
	var p Parser
	if err := p.Parse([]byte("x"), &event.Event{}); !errors.Is(err, ErrNeedsFile) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseAll(t *testing.T) {
	var p Parser
	base := event.Event{Tenant: "t1"}
	var evs []*event.Event
	err := p.ParseAll(twoChunkFile(), base, func(ev *event.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Fatalf("%d events", len(evs))
	}
	for _, ev := range evs {
		if ev.Tenant != "t1" || ev.Format != "evtx/1" || ev.ID == "" || ev.LogSource.Product != "windows" || ev.Time.IsZero() {
			t.Errorf("event %+v", ev)
		}
	}
	if evs[0].GetString("Computer") != "A" || evs[0].ID == evs[1].ID {
		t.Errorf("fields or ids wrong: %q %q %q", evs[0].GetString("Computer"), evs[0].ID, evs[1].ID)
	}
	if err := p.ParseAll([]byte("not evtx"), base, func(*event.Event) error { return nil }); !errors.Is(err, ErrNotEVTX) {
		t.Errorf("err = %v", err)
	}
}

func FuzzEVTX(f *testing.F) {
	f.Add(twoChunkFile())
	f.Add(buildFile(buildChunk(1, typesRecord)))
	// Seed with the first chunk of some real files, each behind a file
	// header.
	if files, _, _ := readArchiveIfPresent("evtx-attack-samples.tgz"); len(files) > 0 {
		for i, af := range files {
			if i%20 != 0 || len(af.data) < fileHeaderSize+chunkSize {
				continue
			}
			f.Add(buildFile(af.data[fileHeaderSize : fileHeaderSize+chunkSize]))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Neither path may panic, and ParseAll (which renders from the
		// resolved record) must agree with the tree Records hands out.
		compareBothWays(t, "input", data)
	})
}
