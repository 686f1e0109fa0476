package soar

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Secrets are referenced in playbooks as secrets.NAME. Values are sealed
// with AES-256-GCM (the tenant and name are the additional data, so a
// sealed value cannot be moved to another name); the API lists names and
// never returns values; run history masks them.

// SecretInfo describes a stored secret without its value.
type SecretInfo struct {
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// ErrNoSecretKey is returned when no key is configured.
var ErrNoSecretKey = errors.New("no secrets key configured (set WACHT_PLAYBOOKS_SECRETS_KEY or WACHT_PLAYBOOKS_SECRETS_KEY_FILE)")

// LoadSecretKey reads a 32-byte key: base64 or hex text in the
// environment variable env, else in the file at env+"_FILE"; if neither is
// set and path is not empty, from path, created with a random key on first
// use (mode 0600).
func LoadSecretKey(getenv func(string) string, env, path string) ([]byte, error) {
	if v := strings.TrimSpace(getenv(env)); v != "" {
		return parseKey(v)
	}
	if f := getenv(env + "_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read secrets key: %w", err)
		}
		return parseKey(strings.TrimSpace(string(b)))
	}
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString(key)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create secrets key: %w", err)
		}
		if _, err := f.WriteString(enc + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("write secrets key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("write secrets key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets key: %w", err)
	}
	return parseKey(strings.TrimSpace(string(b)))
}

func parseKey(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if len(s) == 64 {
		var b [32]byte
		if _, err := fmt.Sscanf(s, "%x", &b); err == nil {
			return b[:], nil
		}
	}
	return nil, errors.New("secrets key: want 32 bytes as base64 or 64 hex digits")
}

func (s *Service) aead() (cipher.AEAD, error) {
	if len(s.key) != 32 {
		return nil, ErrNoSecretKey
	}
	blk, err := aes.NewCipher(s.key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// PutSecret stores (or replaces) a secret.
func (s *Service) PutSecret(ctx context.Context, tenant, name, value, actor string) error {
	if !secretName.MatchString(name) {
		return userErrorf("secret name %q: letters, digits and '_', not starting with a digit", name)
	}
	if value == "" {
		return userErrorf("secret %s: empty value", name)
	}
	g, err := s.aead()
	if err != nil {
		return userErrorf("%v", err)
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := base64.StdEncoding.EncodeToString(g.Seal(nonce, nonce, []byte(value), []byte(tenant+"\x00"+name)))
	_, err = s.db.Exec(ctx, store.Upsert("soar_secrets", []string{"tenant", "name", "sealed", "updated_at", "updated_by"},
		[]string{"tenant", "name"}, []string{"sealed", "updated_at", "updated_by"}),
		tenant, name, sealed, store.TimeOf(s.clock()), actor)
	if err != nil {
		return fmt.Errorf("store secret %s: %w", name, err)
	}
	s.log.Info("playbook_secret_stored", "tenant", tenant, "name", name, "actor", actor)
	return nil
}

// DeleteSecret removes a secret.
func (s *Service) DeleteSecret(ctx context.Context, tenant, name string) error {
	res, err := s.db.Exec(ctx, "DELETE FROM soar_secrets WHERE tenant = ? AND name = ?", tenant, name)
	if err != nil {
		return fmt.Errorf("delete secret %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("secret %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// Secrets lists the tenant's secret names.
func (s *Service) Secrets(ctx context.Context, tenant string) ([]SecretInfo, error) {
	rows, err := s.db.Query(ctx, "SELECT name, updated_at, updated_by FROM soar_secrets WHERE tenant = ? ORDER BY name", tenant)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	defer rows.Close()
	out := []SecretInfo{}
	for rows.Next() {
		var si SecretInfo
		var at store.Timestamp
		if err := rows.Scan(&si.Name, &at, &si.UpdatedBy); err != nil {
			return nil, fmt.Errorf("list secrets: %w", err)
		}
		si.UpdatedAt = at.Time
		out = append(out, si)
	}
	return out, rows.Err()
}

// secret opens one secret for a step.
func (s *Service) secret(ctx context.Context, tenant, name string) (string, error) {
	var sealed string
	err := s.db.QueryRow(ctx, "SELECT sealed FROM soar_secrets WHERE tenant = ? AND name = ?", tenant, name).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("secret %s is not set", name)
	}
	if err != nil {
		return "", fmt.Errorf("load secret %s: %w", name, err)
	}
	g, err := s.aead()
	if err != nil {
		return "", err
	}
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < g.NonceSize() {
		return "", fmt.Errorf("secret %s is damaged", name)
	}
	plain, err := g.Open(nil, b[:g.NonceSize()], b[g.NonceSize():], []byte(tenant+"\x00"+name))
	if err != nil {
		return "", fmt.Errorf("secret %s cannot be opened with this key", name)
	}
	return string(plain), nil
}
