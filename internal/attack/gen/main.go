// Command gen builds the compact ATT&CK catalog embedded in package attack
// from MITRE's STIX 2.1 bundle:
//
//	go run ./internal/attack/gen -in ../shared/attack/enterprise-attack.json.gz -out internal/attack/catalog.tsv.gz
//
// It keeps ids, names, tactic membership, parents, platforms and aliases of
// the objects that are neither revoked nor deprecated — no descriptions —
// with MITRE's copyright designation in the header.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wacht-soc/wacht/internal/attack"
)

func main() {
	in := flag.String("in", "", "ATT&CK STIX bundle (.json or .json.gz)")
	out := flag.String("out", "catalog.tsv.gz", "compact catalog to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := attack.FromBundle(f)
	if err != nil {
		return err
	}
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := attack.WriteCompact(w, c); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "ATT&CK %s: %v\n", c.Version, c.Counts())
	return nil
}
