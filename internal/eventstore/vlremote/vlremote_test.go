package vlremote

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/eventstore/storetest"
)

// startVictoriaLogs runs a real VictoriaLogs (WACHT_TEST_VICTORIALOGS names
// the binary; scripts/test.sh builds the pinned version).
func startVictoriaLogs(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("WACHT_TEST_VICTORIALOGS")
	if bin == "" {
		if os.Getenv("WACHT_REQUIRE_VICTORIALOGS") == "1" {
			t.Fatal("WACHT_REQUIRE_VICTORIALOGS=1 but WACHT_TEST_VICTORIALOGS is not set")
		}
		t.Skip("WACHT_TEST_VICTORIALOGS not set; make test builds VictoriaLogs")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-retentionPeriod=365d", "-loggerLevel=ERROR")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return "http://" + addr
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.EventStore {
		u := startVictoriaLogs(t)
		var st *Store
		var err error
		for i := 0; i < 100; i++ {
			if st, err = Open(context.Background(), Config{URL: u, Retention: 365 * 24 * time.Hour}, slog.Default()); err == nil {
				return st
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("VictoriaLogs did not start: %v", err)
		return nil
	})
}

func TestAccountIDs(t *testing.T) {
	if AccountID("default") != 0 || AccountID("") != 0 {
		t.Fatal("default tenant must be account 0")
	}
	seen := map[uint32]string{}
	for i := 0; i < 10000; i++ {
		name := fmt.Sprintf("tenant-%d", i)
		id := AccountID(name)
		if id == 0 {
			t.Fatalf("%s mapped to the default account", name)
		}
		if other, dup := seen[id]; dup {
			t.Fatalf("%s and %s share account %d", name, other, id)
		}
		seen[id] = name
	}
}
