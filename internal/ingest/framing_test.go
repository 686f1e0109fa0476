package ingest

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string, limit int) (msgs []string, sizes []int, err error) {
	t.Helper()
	fr := newFrameReader(strings.NewReader(in), limit)
	for {
		m, size, err := fr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return msgs, sizes, nil
			}
			return msgs, sizes, err
		}
		msgs = append(msgs, string(m))
		sizes = append(sizes, size)
	}
}

func TestFrameReader(t *testing.T) {
	f := func(name, in string, limit int, want []string, wantSizes []int, wantErr string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			got, sizes, err := readAll(t, in, limit)
			if wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("err %v, want %q", err, wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("messages %q, want %q", got, want)
			}
			for i := range wantSizes {
				if sizes[i] != wantSizes[i] {
					t.Fatalf("sizes %v, want %v", sizes, wantSizes)
				}
			}
		})
	}
	f("newline", "<14>a\n<14>b\r\n\n<14>c", 100, []string{"<14>a", "<14>b", "<14>c"}, []int{5, 5, 5}, "")
	f("octet counting", "5 <14>a6 <14>bc", 100, []string{"<14>a", "<14>bc"}, nil, "")
	f("mixed", "5 <14>a\n<14>b\n", 100, []string{"<14>a", "<14>b"}, nil, "")
	f("line starting with a digit", "2026-01-01 host msg\n", 100, []string{"2026-01-01 host msg"}, nil, "")
	f("truncated frame", "50 <14>short", 100, nil, nil, "truncated frame: 50 octets announced")
	f("stream ends inside the count", "12", 100, nil, nil, "stream ended inside the octet count")
	f("long line truncated", strings.Repeat("x", 30)+"\nok\n", 10, []string{strings.Repeat("x", 10), "ok"}, []int{30, 2}, "")
	f("oversized frame skipped", "20 "+strings.Repeat("y", 20)+"2 ok", 10, []string{"", "ok"}, []int{20, 2}, "")
	f("long line across buffer", strings.Repeat("z", 200_000)+"\n", 1<<20, []string{strings.Repeat("z", 200_000)}, []int{200_000}, "")
}

func FuzzFrameReader(f *testing.F) {
	for _, s := range []string{"5 <14>a\n<14>b\n", "50 <14>short", "<14>x\r\n", "999999999999 x", "0 \n"} {
		f.Add([]byte(s), 64)
	}
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		if limit <= 0 || limit > 1<<16 {
			limit = 64
		}
		fr := newFrameReader(strings.NewReader(string(data)), limit)
		for i := 0; i <= len(data); i++ {
			m, size, err := fr.next()
			if err != nil {
				return
			}
			if len(m) > limit {
				t.Fatalf("message of %d bytes over the limit %d", len(m), limit)
			}
			if size < len(m) {
				t.Fatalf("size %d smaller than the message %d", size, len(m))
			}
		}
		// Every call consumes at least one byte, so len(data)+1 calls end it.
		if _, _, err := fr.next(); err == nil {
			t.Fatal("reader did not reach the end")
		}
	})
}
