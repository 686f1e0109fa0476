// Package timestamp reads the time formats found in security logs: RFC 3339
// and its ISO 8601 relatives, BSD syslog's year-less "Jan  2 15:04:05",
// Apache's "02/Jan/2006:15:04:05 -0700" and Unix epochs in seconds,
// milliseconds, microseconds or nanoseconds.
//
// Nothing here reads the clock: a time without a year or zone is completed
// from a reference time and a location the caller passes in.
package timestamp

import (
	"errors"
	"strconv"
	"time"
)

// ErrSyntax is returned for text that is not a timestamp this package reads.
var ErrSyntax = errors.New("not a timestamp")

func digits(b []byte, n int) (int, bool) {
	if len(b) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// ISO reads an ISO 8601 date-time at the start of b: "2006-01-02T15:04:05"
// (or a space instead of T), an optional fraction of up to nine digits and
// an optional zone ("Z", "+07:00", "+0700", "+07"). It returns the time, the
// number of bytes read and whether a zone was present; a time without a zone
// is in loc. The values of every part are checked (month 13 is an error).
func ISO(b []byte, loc *time.Location) (t time.Time, n int, zoned bool, err error) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, 0, false, ErrSyntax
	}
	year, ok1 := digits(b, 4)
	month, ok2 := digits(b[5:], 2)
	day, ok3 := digits(b[8:], 2)
	hour, ok4 := digits(b[11:], 2)
	minute, ok5 := digits(b[14:], 2)
	sec, ok6 := digits(b[17:], 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return time.Time{}, 0, false, ErrSyntax
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, 0, false, errors.New("date or time out of range")
	}
	if sec == 60 { // leap second: keep the event, round down
		sec = 59
	}
	n = 19
	nsec := 0
	if n < len(b) && (b[n] == '.' || b[n] == ',') {
		n++
		start := n
		scale := 100000000
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			if n-start < 9 {
				nsec += int(b[n]-'0') * scale
				scale /= 10
			}
			n++
		}
		if n == start {
			return time.Time{}, 0, false, errors.New("empty fraction of a second")
		}
	}
	zone := orUTC(loc)
	if n < len(b) {
		switch c := b[n]; c {
		case 'Z', 'z':
			n++
			zone, zoned = time.UTC, true
		case '+', '-':
			hh, ok := digits(b[n+1:], 2)
			if !ok {
				return time.Time{}, 0, false, errors.New("bad zone offset")
			}
			m := n + 3
			mm := 0
			if m < len(b) && b[m] == ':' {
				if mm, ok = digits(b[m+1:], 2); !ok {
					return time.Time{}, 0, false, errors.New("bad zone offset")
				}
				m += 3
			} else if v, ok := digits(b[m:], 2); ok {
				mm = v
				m += 2
			}
			if hh > 23 || mm > 59 {
				return time.Time{}, 0, false, errors.New("zone offset out of range")
			}
			off := hh*3600 + mm*60
			if c == '-' {
				off = -off
			}
			n = m
			zoned = true
			if off == 0 {
				zone = time.UTC
			} else {
				zone = time.FixedZone("", off)
			}
		}
	}
	if zone == nil {
		zone = time.UTC
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, zone).UTC(), n, zoned, nil
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// Month reads a three-letter English month name (any case).
func Month(b []byte) (time.Month, bool) {
	if len(b) < 3 {
		return 0, false
	}
	c0, c1, c2 := b[0]|0x20, b[1]|0x20, b[2]|0x20
	for i, m := range months {
		if c0 == m[0]|0x20 && c1 == m[1] && c2 == m[2] {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// BSD reads "Jan  2 15:04:05" (day padded with a space or a zero, optional
// fraction) at the start of b, optionally followed by a year ("Jan  2 2006
// 15:04:05" or "Jan  2 15:04:05 2006" are not distinguished from a hostname,
// so only the first form is read). A missing year is taken from ref: the
// year that puts the time nearest before ref plus a day, so that December
// lines read in January land in the right year. It returns the time, the
// bytes read and whether the year was present.
func BSD(b []byte, ref time.Time, loc *time.Location) (t time.Time, n int, err error) {
	mon, ok := Month(b)
	if !ok || len(b) < 7 || b[3] != ' ' {
		return time.Time{}, 0, ErrSyntax
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	day := 0
	j := i
	for j < len(b) && j < i+2 && b[j] >= '0' && b[j] <= '9' {
		day = day*10 + int(b[j]-'0')
		j++
	}
	if j == i || j >= len(b) || b[j] != ' ' || day < 1 || day > 31 {
		return time.Time{}, 0, ErrSyntax
	}
	i = j + 1
	year := -1
	if y, ok := digits(b[i:], 4); ok && len(b) > i+4 && b[i+4] == ' ' {
		year = y
		i += 5
	}
	if len(b) < i+8 || b[i+2] != ':' || b[i+5] != ':' {
		return time.Time{}, 0, ErrSyntax
	}
	hour, ok1 := digits(b[i:], 2)
	minute, ok2 := digits(b[i+3:], 2)
	sec, ok3 := digits(b[i+6:], 2)
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, 0, errors.New("time of day out of range")
	}
	if sec == 60 {
		sec = 59
	}
	n = i + 8
	nsec := 0
	if n < len(b) && b[n] == '.' {
		n++
		start, scale := n, 100000000
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			if n-start < 9 {
				nsec += int(b[n]-'0') * scale
				scale /= 10
			}
			n++
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	if year >= 0 {
		if day > daysIn(int(mon), year) {
			return time.Time{}, 0, errors.New("day out of range")
		}
		return time.Date(year, mon, day, hour, minute, sec, nsec, loc).UTC(), n, nil
	}
	if ref.IsZero() {
		return time.Time{}, 0, errors.New("timestamp has no year and no reference time was given")
	}
	year = ref.In(loc).Year()
	t = time.Date(year, mon, day, hour, minute, sec, nsec, loc)
	if t.After(ref.Add(24 * time.Hour)) {
		t = time.Date(year-1, mon, day, hour, minute, sec, nsec, loc)
	}
	if day > daysIn(int(mon), t.Year()) {
		return time.Time{}, 0, errors.New("day out of range")
	}
	return t.UTC(), n, nil
}

// Apache reads "02/Jan/2006:15:04:05 -0700" (the Common Log Format time).
func Apache(b []byte) (time.Time, error) {
	if len(b) < 20 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' {
		return time.Time{}, ErrSyntax
	}
	day, ok1 := digits(b, 2)
	mon, ok2 := Month(b[3:])
	year, ok3 := digits(b[7:], 4)
	hour, ok4 := digits(b[12:], 2)
	minute, ok5 := digits(b[15:], 2)
	sec, ok6 := digits(b[18:], 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || day < 1 || day > daysIn(int(mon), year) || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, ErrSyntax
	}
	loc := time.UTC
	if len(b) >= 26 && b[20] == ' ' && (b[21] == '+' || b[21] == '-') {
		hh, ok1 := digits(b[22:], 2)
		mm, ok2 := digits(b[24:], 2)
		if !ok1 || !ok2 {
			return time.Time{}, ErrSyntax
		}
		off := hh*3600 + mm*60
		if b[21] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	return time.Date(year, mon, day, hour, minute, min(sec, 59), 0, loc).UTC(), nil
}

// Epoch turns a Unix time into a time, guessing the unit from the
// magnitude: seconds up to 1e11, then milliseconds, microseconds and
// nanoseconds.
func Epoch(v float64) time.Time {
	switch {
	case v < 0:
		return time.Time{}
	case v < 1e11:
		sec := int64(v)
		return time.Unix(sec, int64((v-float64(sec))*1e9)).UTC()
	case v < 1e14:
		return time.UnixMicro(int64(v * 1000)).UTC()
	case v < 1e17:
		return time.UnixMicro(int64(v)).UTC()
	}
	return time.Unix(0, int64(v)).UTC()
}

var layouts = []string{
	time.RFC1123Z,
	time.RFC1123,
	time.RFC850,
	time.ANSIC,
	time.UnixDate,
	"1/2/2006 3:04:05 PM",
	"2006/01/02 15:04:05",
	"01/02/2006 15:04:05",
}

// Parse reads a whole string in any of the formats of this package (and a
// few RFC 1123 relatives). A number is read as an epoch. Times without a
// zone are in loc; ref completes times without a year.
func Parse(s string, ref time.Time, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, ErrSyntax
	}
	b := []byte(s)
	if t, n, _, err := ISO(b, loc); err == nil && n == len(b) {
		return t, nil
	}
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		if t, err := time.ParseInLocation("2006-01-02", s, orUTC(loc)); err == nil {
			return t.UTC(), nil
		}
	}
	if c := s[0]; c >= '0' && c <= '9' {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return Epoch(f), nil
		}
		if t, err := Apache(b); err == nil {
			return t, nil
		}
	}
	if t, n, err := BSD(b, ref, loc); err == nil && n == len(b) {
		return t, nil
	}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, s, orUTC(loc)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, ErrSyntax
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}
