package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// maxAnswer bounds an API answer read into memory.
const maxAnswer = 256 << 20

// Do sends one authenticated request (body may be nil; ctype names its
// type) and returns the body of a 2xx answer; any other answer is an error
// carrying the server's message.
func (g *Globals) Do(ctx context.Context, method, path, ctype string, body io.Reader) ([]byte, error) {
	c, err := g.Client()
	if err != nil {
		return nil, err
	}
	if body == nil {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("contact server %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("server answered %s: %s", resp.Status, e.Error)
		}
		return nil, fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// Call sends a JSON request to the server and decodes the answer into out
// (a *string takes it raw). With --json the answer is printed as it came
// and out is left alone; a non-2xx answer is an error with the server's
// message.
func (g *Globals) Call(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	ctype := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd, ctype = bytes.NewReader(b), "application/json"
	}
	b, err := g.Do(ctx, method, path, ctype, rd)
	if err != nil {
		return err
	}
	if g.JSON || out == nil {
		if g.JSON {
			_, err = os.Stdout.Write(b)
		}
		return err
	}
	if s, ok := out.(*string); ok {
		*s = string(b)
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
