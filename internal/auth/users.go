package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Errors of the user and session paths. ErrLoginFailed and ErrLocked are
// user-safe and say nothing about which factor failed.
var (
	ErrLoginFailed = errors.New("wrong username, password or code")
	ErrLocked      = errors.New("too many failed sign-ins: try again later")
	ErrNoSession   = errors.New("session expired or signed out")
	ErrNoBinding   = errors.New("no role in this tenant")
	ErrExists      = errors.New("already exists")
)

// systemTenant owns rows that belong to no tenant (login throttling of
// unknown names).
const systemTenant = "_system"

// User is a person who signs in. It never carries the password hash or
// the TOTP secret.
type User struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"` // home tenant
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	TOTP        bool      `json:"totp"`
	OIDCSubject string    `json:"oidc_subject,omitempty"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
	// Roles maps tenant to role.
	Roles map[string]string `json:"roles"`
}

// Policy are the session and lockout rules.
type Policy struct {
	IdleTimeout time.Duration // default 30m
	MaxAge      time.Duration // absolute, default 12h
	MaxFailures int           // default 5
	LockFor     time.Duration // default 15m
}

func (p Policy) withDefaults() Policy {
	if p.IdleTimeout <= 0 {
		p.IdleTimeout = 30 * time.Minute
	}
	if p.MaxAge <= 0 {
		p.MaxAge = 12 * time.Hour
	}
	if p.MaxFailures <= 0 {
		p.MaxFailures = 5
	}
	if p.LockFor <= 0 {
		p.LockFor = 15 * time.Minute
	}
	return p
}

// Users keeps users, role bindings and sessions.
type Users struct {
	db        *store.DB
	now       func() time.Time
	log       *slog.Logger
	policy    Policy
	validRole func(string) bool
	argon     argonParams
}

// UsersOptions configure Users.
type UsersOptions struct {
	Now    func() time.Time
	Log    *slog.Logger
	Policy Policy
	// ValidRole reports whether a role name exists (nil: any).
	ValidRole func(string) bool
	// FastHashing lowers argon2id cost (tests only).
	FastHashing bool
}

// NewUsers returns the user store over db.
func NewUsers(db *store.DB, o UsersOptions) *Users {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ValidRole == nil {
		o.ValidRole = func(string) bool { return true }
	}
	u := &Users{db: db, now: o.Now, log: o.Log, policy: o.Policy.withDefaults(), validRole: o.ValidRole, argon: defaultArgon}
	if o.FastHashing {
		u.argon = argonParams{memory: 1024, time: 1, threads: 1, keyLen: 32}
	}
	return u
}

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (u *Users) stamp() time.Time { return u.now().UTC().Truncate(time.Microsecond) }

// NewUser describes a user to create.
type NewUser struct {
	Tenant      string
	Username    string
	DisplayName string
	Password    string // empty: single sign-on only
	OIDCSubject string
	Role        string // bound in Tenant
}

// Create adds a user with a role in its home tenant.
func (u *Users) Create(ctx context.Context, n NewUser) (User, error) {
	if n.Tenant == "" {
		n.Tenant = "default"
	}
	n.Username = strings.ToLower(strings.TrimSpace(n.Username))
	for _, f := range []struct{ name, v string }{{"tenant", n.Tenant}, {"username", n.Username}, {"role", n.Role}} {
		if err := validText(f.name, f.v, 200); err != nil {
			return User{}, fmt.Errorf("create user: %w", err)
		}
	}
	if !u.validRole(n.Role) {
		return User{}, fmt.Errorf("create user %s: unknown role %q", n.Username, n.Role)
	}
	hash := ""
	if n.Password != "" {
		var err error
		if hash, err = hashPassword(n.Password, u.argon); err != nil {
			return User{}, fmt.Errorf("create user %s: %w", n.Username, err)
		}
	} else if n.OIDCSubject == "" {
		return User{}, fmt.Errorf("create user %s: give a password or an OIDC subject", n.Username)
	}
	usr := User{ID: randomID("usr_", 10), Tenant: n.Tenant, Username: n.Username, DisplayName: n.DisplayName,
		OIDCSubject: n.OIDCSubject, CreatedAt: u.stamp(), Roles: map[string]string{n.Tenant: n.Role}}
	err := u.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, tenant, username, display_name, password_hash, totp_secret,
			totp_last_step, oidc_subject, disabled, created_at, version) VALUES (?, ?, ?, ?, ?, '', 0, ?, 0, ?, 1)`,
			usr.ID, usr.Tenant, usr.Username, usr.DisplayName, hash, usr.OIDCSubject, store.TimeOf(usr.CreatedAt)); err != nil {
			if store.IsUniqueViolation(err) {
				return fmt.Errorf("user %s: %w", usr.Username, ErrExists)
			}
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO role_bindings (tenant, user_id, role) VALUES (?, ?, ?)", usr.Tenant, usr.ID, n.Role)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", n.Username, err)
	}
	return usr, nil
}

const userColumns = "id, tenant, username, display_name, totp_secret <> '', oidc_subject, disabled, created_at"

const userColumnsQualified = "users.id, users.tenant, users.username, users.display_name, users.totp_secret <> '', users.oidc_subject, users.disabled, users.created_at"

func scanUser(r rowScanner, extra ...any) (User, error) {
	var usr User
	var created store.Timestamp
	var disabled int
	dest := append([]any{&usr.ID, &usr.Tenant, &usr.Username, &usr.DisplayName, &usr.TOTP, &usr.OIDCSubject, &disabled, &created}, extra...)
	if err := r.Scan(dest...); err != nil {
		return User{}, err
	}
	usr.Disabled, usr.CreatedAt = disabled != 0, created.Time
	return usr, nil
}

func (u *Users) roles(ctx context.Context, q store.Querier, userID string) (map[string]string, error) {
	rows, err := q.Query(ctx, "SELECT tenant, role FROM role_bindings WHERE user_id = ?", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var t, r string
		if err := rows.Scan(&t, &r); err != nil {
			return nil, err
		}
		out[t] = r
	}
	return out, rows.Err()
}

// Get returns a user visible in tenant (bound there), else ErrNotFound.
func (u *Users) Get(ctx context.Context, tenant, id string) (User, error) {
	usr, err := scanUser(u.db.QueryRow(ctx, "SELECT "+userColumns+` FROM users
		WHERE id = ? AND id IN (SELECT user_id FROM role_bindings WHERE tenant = ?)`, id, tenant))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, fmt.Errorf("user %s in tenant %s: %w", id, tenant, ErrNotFound)
	case err != nil:
		return User{}, fmt.Errorf("get user %s: %w", id, err)
	}
	roles, err := u.roles(ctx, u.db, id)
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", id, err)
	}
	usr.Roles = map[string]string{tenant: roles[tenant]} // other tenants stay invisible
	return usr, nil
}

// ByUsername finds a user by name in any tenant (for offline tools).
func (u *Users) ByUsername(ctx context.Context, username string) (User, error) {
	usr, err := scanUser(u.db.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE username = ?", strings.ToLower(username)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, fmt.Errorf("user %s: %w", username, ErrNotFound)
	case err != nil:
		return User{}, fmt.Errorf("get user %s: %w", username, err)
	}
	if usr.Roles, err = u.roles(ctx, u.db, usr.ID); err != nil {
		return User{}, err
	}
	return usr, nil
}

// List returns the users bound in tenant, by name.
func (u *Users) List(ctx context.Context, tenant string) ([]User, error) {
	rows, err := u.db.Query(ctx, "SELECT "+userColumnsQualified+`, b.role FROM users JOIN role_bindings b ON b.user_id = users.id
		WHERE b.tenant = ? ORDER BY username`, tenant)
	if err != nil {
		return nil, fmt.Errorf("list users of tenant %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var role string
		usr, err := scanUser(rows, &role)
		if err != nil {
			return nil, fmt.Errorf("list users of tenant %s: %w", tenant, err)
		}
		usr.Roles = map[string]string{tenant: role}
		out = append(out, usr)
	}
	return out, rows.Err()
}

// Bind gives a user a role in tenant (replacing the one it had there).
// role "" removes the binding.
func (u *Users) Bind(ctx context.Context, tenant, userID, role string) error {
	if role != "" && !u.validRole(role) {
		return fmt.Errorf("bind user %s: unknown role %q", userID, role)
	}
	if err := validText("tenant", tenant, 200); err != nil {
		return fmt.Errorf("bind user %s: %w", userID, err)
	}
	return u.db.Tx(ctx, func(tx *store.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, "SELECT 1 FROM users WHERE id = ?", userID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("bind user %s: %w", userID, ErrNotFound)
			}
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM role_bindings WHERE tenant = ? AND user_id = ?", tenant, userID); err != nil {
			return err
		}
		if role == "" {
			return nil
		}
		_, err := tx.Exec(ctx, "INSERT INTO role_bindings (tenant, user_id, role) VALUES (?, ?, ?)", tenant, userID, role)
		return err
	})
}

// SetPassword replaces a user's password and ends their sessions.
func (u *Users) SetPassword(ctx context.Context, userID, password string) error {
	hash, err := hashPassword(password, u.argon)
	if err != nil {
		return err
	}
	return u.update(ctx, userID, "password_hash = ?", hash)
}

// SetDisabled disables or enables a user; disabling ends their sessions.
func (u *Users) SetDisabled(ctx context.Context, userID string, disabled bool) error {
	v := 0
	if disabled {
		v = 1
	}
	return u.update(ctx, userID, "disabled = ?", v)
}

// EnrollTOTP gives a user a new TOTP secret and returns it (shown once).
// From now on sign-in needs a code.
func (u *Users) EnrollTOTP(ctx context.Context, userID string) (string, error) {
	secret, err := newTOTPSecret()
	if err != nil {
		return "", err
	}
	return secret, u.update(ctx, userID, "totp_secret = ?, totp_last_step = 0", secret)
}

func (u *Users) update(ctx context.Context, userID, set string, args ...any) error {
	return u.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, "UPDATE users SET "+set+", version = version + 1 WHERE id = ?", append(args, userID)...)
		if err != nil {
			return fmt.Errorf("update user %s: %w", userID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("update user %s: %w", userID, ErrNotFound)
		}
		_, err = tx.Exec(ctx, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
			store.TimeOf(u.stamp()), userID)
		return err
	})
}

// Unlock clears a username's failed sign-ins.
func (u *Users) Unlock(ctx context.Context, username string) error {
	_, err := u.db.Exec(ctx, "DELETE FROM login_attempts WHERE tenant = ? AND username = ?", systemTenant, strings.ToLower(username))
	return err
}

// Login is a sign-in attempt.
type Login struct {
	Username string
	Password string
	TOTP     string
	Tenant   string // "" the user's home tenant
	Source   string
}

// Login checks password and (when enrolled) TOTP, with lockout after
// repeated failures, and opens a session. The returned secret goes into
// the cookie; it is not stored.
func (u *Users) Login(ctx context.Context, l Login) (string, Session, error) {
	name := strings.ToLower(strings.TrimSpace(l.Username))
	now := u.now()
	if locked, err := u.locked(ctx, name, now); err != nil {
		return "", Session{}, err
	} else if locked {
		return "", Session{}, ErrLocked
	}
	var hash, secret string
	var lastStep int64
	usr, err := scanUser(u.db.QueryRow(ctx, "SELECT "+userColumns+", password_hash, totp_secret, totp_last_step FROM users WHERE username = ?", name),
		&hash, &secret, &lastStep)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", Session{}, fmt.Errorf("sign in: %w", err)
	}
	ok := false
	if err == nil && hash != "" && !usr.Disabled {
		ok, err = checkPassword(l.Password, hash)
		if err != nil {
			return "", Session{}, fmt.Errorf("sign in %s: %w", usr.ID, err)
		}
	} else {
		// Spend the same time for unknown users.
		_, _ = checkPassword(l.Password, "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	}
	method := MethodPassword
	var step int64
	if ok && secret != "" {
		step, ok = checkTOTP(secret, l.TOTP, now, lastStep)
		method = MethodMFA
	}
	if !ok {
		if err := u.fail(ctx, name, now); err != nil {
			return "", Session{}, err
		}
		return "", Session{}, ErrLoginFailed
	}
	if _, err := u.db.Exec(ctx, "DELETE FROM login_attempts WHERE tenant = ? AND username = ?", systemTenant, name); err != nil {
		return "", Session{}, fmt.Errorf("sign in: %w", err)
	}
	if step > 0 {
		if _, err := u.db.Exec(ctx, "UPDATE users SET totp_last_step = ? WHERE id = ?", step, usr.ID); err != nil {
			return "", Session{}, fmt.Errorf("sign in: %w", err)
		}
	}
	tenant := l.Tenant
	if tenant == "" {
		tenant = usr.Tenant
	}
	return u.openSession(ctx, usr, tenant, method, l.Source)
}

func (u *Users) locked(ctx context.Context, name string, now time.Time) (bool, error) {
	var until store.Timestamp
	err := u.db.QueryRow(ctx, "SELECT locked_until FROM login_attempts WHERE tenant = ? AND username = ?", systemTenant, name).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sign in: %w", err)
	}
	return !until.Time.IsZero() && now.Before(until.Time), nil
}

func (u *Users) fail(ctx context.Context, name string, now time.Time) error {
	err := u.db.Tx(ctx, func(tx *store.Tx) error {
		var failures int
		err := tx.QueryRow(ctx, "SELECT failures FROM login_attempts WHERE tenant = ? AND username = ?", systemTenant, name).Scan(&failures)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.Exec(ctx, "INSERT INTO login_attempts (tenant, username, failures) VALUES (?, ?, 0)", systemTenant, name)
			if err != nil {
				return err
			}
		case err != nil:
			return err
		}
		failures++
		var until store.Timestamp
		if failures >= u.policy.MaxFailures {
			until = store.TimeOf(now.Add(u.policy.LockFor))
			failures = 0
			u.log.Warn("login_locked", "username", name)
		}
		_, err = tx.Exec(ctx, "UPDATE login_attempts SET failures = ?, locked_until = ? WHERE tenant = ? AND username = ?",
			failures, until, systemTenant, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("record failed sign-in: %w", err)
	}
	return nil
}

// secretHash is the stored form of a session secret.
func secretHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newSecret(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}
