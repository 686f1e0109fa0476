package demo

import (
	"encoding/json"
	"io"
)

func decodeFirst(r io.Reader, v any) error {
	return json.NewDecoder(r).Decode(v)
}
