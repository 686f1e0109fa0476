package ueba

import "time"

// weekHours is one week of hours (the time-of-week histogram).
const weekHours = 168

// ringHours is the length of a series' history: eight days, so that the
// same hour a week ago is still known when the hour closes.
const ringHours = 192

// Series is an hourly count with a week of history: the current hour's
// count and a ring of the last 192 closed hours (uint16, saturating), about
// 400 bytes. The baseline for an hour is the same hour of the previous days
// (daily season), or the last day when fewer days are known.
type Series struct {
	Hour   int64             `json:"h"` // Unix hour of Cur
	Cur    uint32            `json:"c"`
	Ring   [ringHours]uint16 `json:"r"`
	Filled uint16            `json:"f"` // closed hours in Ring (≤ 168)
	Fired  uint8             `json:"x"` // spikes Cur already raised this hour
	// thr caches the spike threshold of hour thrAt (not snapshotted).
	thr   float64
	thrAt int64
}

// closed is an hour that ended with its count.
type closed struct {
	hour  int64
	count float64
}

// advance moves the series to hour h, closing the hours in between; it
// returns the hours closed (at most a week, so a long silence is bounded).
func (s *Series) advance(h int64, out []closed) []closed {
	if s.Hour == 0 {
		s.Hour = h
		return out
	}
	for s.Hour < h {
		v := min(s.Cur, 65535)
		s.Ring[s.Hour%ringHours] = uint16(v)
		out = append(out, closed{s.Hour, float64(v)})
		if s.Filled < ringHours {
			s.Filled++
		}
		s.Cur, s.Fired = 0, 0
		s.Hour++
		if h-s.Hour > ringHours {
			// Long gap: the skipped hours are all zero.
			for i := range s.Ring {
				s.Ring[i] = 0
			}
			s.Filled = ringHours
			s.Hour = h
		}
	}
	return out
}

// baseline returns the comparison values for hour h: the same hour on up
// to 7 previous days when at least 3 are known, else the last 24 hours.
func (s *Series) baseline(h int64, buf []float64) []float64 {
	buf = buf[:0]
	days := int64(s.Filled) / 24
	if days >= 3 {
		for d := int64(1); d <= min(days, 7); d++ {
			buf = append(buf, float64(s.Ring[(h-24*d)%ringHours]))
		}
		return buf
	}
	for i := int64(1); i <= min(int64(s.Filled), 24); i++ {
		buf = append(buf, float64(s.Ring[(h-i)%ringHours]))
	}
	return buf
}

// weekAgo is the count of the hour one week before h, ok when known.
func (s *Series) weekAgo(h int64) (float64, bool) {
	if s.Filled < weekHours+1 {
		return 0, false
	}
	return float64(s.Ring[(h-weekHours)%ringHours]), true
}

// unixHour is t's hour number since the epoch.
func unixHour(t time.Time) int64 { return t.Unix() / 3600 }
