package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// CA is wacht's small certificate authority for forwarders and agents:
// it issues client certificates (`wacht pki issue --name NAME`) that ingest
// listeners require, and keeps their serials so they can be revoked.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	db   *store.DB
	now  func() time.Time
}

// CA files in its directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// OpenCA loads the CA from dir, creating it (ECDSA P-256, 10 years) on
// first use. db keeps the issued certificates.
func OpenCA(dir string, db *store.DB, now func() time.Time) (*CA, error) {
	if now == nil {
		now = time.Now
	}
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
		if err := createCA(dir, certPath, keyPath, now()); err != nil {
			return nil, err
		}
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load CA %s: %w", certPath, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("load CA %s: %w", certPath, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load CA %s: key is not ECDSA", keyPath)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, pem: certPEM, db: db, now: now}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}

func createCA(dir, certPath, keyPath string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create CA directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "wacht ingest CA", Organization: []string{"wacht"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	return writePair(certPath, keyPath, der, key)
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", keyPath, err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", certPath, err)
	}
	return nil
}

// CertPEM is the CA certificate (for shippers' trust stores).
func (ca *CA) CertPEM() []byte { return ca.pem }

// Issued is a certificate the CA issued.
type Issued struct {
	Serial    string    `json:"serial"`
	Name      string    `json:"name"`
	Tenant    string    `json:"tenant"`
	NotAfter  time.Time `json:"not_after"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Issue creates a client certificate for name (its common name) in
// tenant, valid for ttl, and writes NAME.crt and NAME.key into outDir.
func (ca *CA) Issue(ctx context.Context, tenant, name string, ttl time.Duration, outDir string) (Issued, error) {
	if err := validText("name", name, 64); err != nil || filepath.Base(name) != name {
		return Issued{}, fmt.Errorf("issue certificate: name %q must be a plain word", name)
	}
	if ttl <= 0 {
		ttl = 365 * 24 * time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Issued{}, err
	}
	now := ca.now().UTC().Truncate(time.Second)
	sn := serial()
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{tenant}},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(ttl),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Issued{}, fmt.Errorf("issue certificate %s: %w", name, err)
	}
	is := Issued{Serial: sn.Text(16), Name: name, Tenant: tenant, NotAfter: tmpl.NotAfter, CreatedAt: now}
	if _, err := ca.db.Exec(ctx, "INSERT INTO pki_certs (serial, tenant, name, not_after, created_at) VALUES (?, ?, ?, ?, ?)",
		is.Serial, tenant, name, store.TimeOf(is.NotAfter), store.TimeOf(now)); err != nil {
		return Issued{}, fmt.Errorf("record certificate %s: %w", name, err)
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return Issued{}, err
	}
	if err := writePair(filepath.Join(outDir, name+".crt"), filepath.Join(outDir, name+".key"), der, key); err != nil {
		return Issued{}, err
	}
	return is, nil
}

// Revoke marks a certificate of tenant revoked; listeners refuse it from
// the next handshake.
func (ca *CA) Revoke(ctx context.Context, tenant, serial string) error {
	res, err := ca.db.Exec(ctx, "UPDATE pki_certs SET revoked_at = ? WHERE tenant = ? AND serial = ? AND revoked_at IS NULL",
		store.TimeOf(ca.now()), tenant, serial)
	if err != nil {
		return fmt.Errorf("revoke certificate %s: %w", serial, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke certificate %s: %w", serial, ErrNotFound)
	}
	return nil
}

// List returns tenant's certificates.
func (ca *CA) List(ctx context.Context, tenant string) ([]Issued, error) {
	rows, err := ca.db.Query(ctx, "SELECT serial, tenant, name, not_after, created_at, revoked_at FROM pki_certs WHERE tenant = ? ORDER BY created_at", tenant)
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	defer rows.Close()
	var out []Issued
	for rows.Next() {
		var is Issued
		var na, ca2, rv store.Timestamp
		if err := rows.Scan(&is.Serial, &is.Tenant, &is.Name, &na, &ca2, &rv); err != nil {
			return nil, err
		}
		is.NotAfter, is.CreatedAt, is.RevokedAt = na.Time, ca2.Time, rv.Time
		out = append(out, is)
	}
	return out, rows.Err()
}

// issuedBy looks a serial up (revoked or not); ErrNotFound when this CA
// never issued it.
func (ca *CA) issuedBy(ctx context.Context, serial string) (Issued, error) {
	var is Issued
	var rv store.Timestamp
	err := ca.db.QueryRow(ctx, "SELECT serial, tenant, name, revoked_at FROM pki_certs WHERE serial = ?", serial).Scan(&is.Serial, &is.Tenant, &is.Name, &rv)
	if err != nil {
		return Issued{}, ErrNotFound
	}
	is.RevokedAt = rv.Time
	return is, nil
}

// ServerTLSConfig is the TLS configuration of an ingest listener that
// requires client certificates from this CA: a certificate signed by
// another CA, expired, or revoked is refused in the handshake. serverCert
// is the listener's own certificate.
func (ca *CA) ServerTLSConfig(serverCert tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		Time:         ca.now,
		VerifyPeerCertificate: func(_ [][]byte, chains [][]*x509.Certificate) error {
			if len(chains) == 0 || len(chains[0]) == 0 {
				return errors.New("no verified client certificate")
			}
			leaf := chains[0][0]
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			is, err := ca.issuedBy(ctx, leaf.SerialNumber.Text(16))
			if err != nil {
				return fmt.Errorf("client certificate %s was not issued by this wacht", leaf.Subject.CommonName)
			}
			if !is.RevokedAt.IsZero() {
				return fmt.Errorf("client certificate %s is revoked", leaf.Subject.CommonName)
			}
			return nil
		},
	}
}

// ClientTenant is the tenant a verified client certificate was issued for
// (its OU), for listeners that tag events by certificate.
func ClientTenant(cs tls.ConnectionState) string {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return ""
	}
	if ou := cs.VerifiedChains[0][0].Subject.OrganizationalUnit; len(ou) > 0 {
		return ou[0]
	}
	return ""
}
