package seal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/coffer-project/coffer/keyring"
)

// ErrWrongShares is returned when a threshold of shares does not reconstruct this deployment's
// root key (the verifier does not match): shares of another deployment or split, or a share
// that was altered yet kept a valid checksum. The Unsealer has reset; start over.
var ErrWrongShares = errors.New("seal: the shares do not reconstruct this deployment's root key")

const redacted = "[redacted]"

// Unsealer collects the shares of a Shamir seal one at a time, as their holders type them, and
// yields the root key once a threshold of them reconstruct it. It holds share bytes, so it
// never prints them: every fmt verb and slog show "[redacted]". It is safe for concurrent use.
type Unsealer struct {
	cfg *ShamirConfig

	mu     sync.Mutex
	shares heldShares
}

// heldShares are shares given so far, each x || y, in the order given. The type redacts
// itself too, so even a copied Unsealer value prints no share.
type heldShares [][]byte

// Format prints "[redacted]" for every verb.
func (heldShares) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// NewUnsealer returns an Unsealer for cfg, which must be a valid Shamir seal configuration.
func NewUnsealer(cfg *Config) (*Unsealer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Type != TypeShamir {
		return nil, fmt.Errorf("seal: configuration is a %s seal, not a shamir seal", cfg.Type)
	}
	return &Unsealer{cfg: cfg.Shamir}, nil
}

// Threshold returns how many shares unseal.
func (u *Unsealer) Threshold() int { return u.cfg.Threshold }

// Progress returns how many distinct shares are held.
func (u *Unsealer) Progress() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.shares)
}

// Add takes one printed share and returns how many shares are now held, of Threshold.
//
// A share that does not parse (ErrShareFormat, ErrShareChecksum), that is not a share of a
// root key, or whose number was already given (ErrDuplicateShare) is refused and the shares
// held are kept, so its holder can retype it. When the threshold is reached the shares are
// combined and the Unsealer resets whatever the outcome: it returns the root key and
// progress = Threshold, or ErrWrongShares and progress 0.
func (u *Unsealer) Add(share string) (progress int, root *keyring.RootKey, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	b, err := ParseShare(share)
	if err != nil {
		return len(u.shares), nil, err
	}
	if len(b) != 1+keyring.KeySize {
		keyring.Wipe(b)
		return len(u.shares), nil, errors.New("seal: share is not a share of a root key (wrong length)")
	}
	for _, s := range u.shares {
		if s[0] == b[0] {
			keyring.Wipe(b)
			return len(u.shares), nil, ErrDuplicateShare
		}
	}
	u.shares = append(u.shares, b)
	if len(u.shares) < u.cfg.Threshold {
		return len(u.shares), nil, nil
	}
	defer u.reset()
	rk, err := Combine(u.shares)
	if err != nil {
		return 0, nil, err
	}
	defer keyring.Wipe(rk)
	ok, err := u.cfg.verify(rk)
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, ErrWrongShares
	}
	root, err = keyring.RootKeyFromBytes(rk)
	if err != nil {
		return 0, nil, err
	}
	return u.cfg.Threshold, root, nil
}

// Reset wipes and forgets the shares held.
func (u *Unsealer) Reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reset()
}

func (u *Unsealer) reset() {
	for _, s := range u.shares {
		keyring.Wipe(s)
	}
	clear(u.shares)
	u.shares = nil
}

// String never reveals shares.
func (u *Unsealer) String() string { return redacted }

// GoString never reveals shares.
func (u *Unsealer) GoString() string { return redacted }

// Format prints "[redacted]" for every verb, so %d or %x cannot walk the fields either.
func (u *Unsealer) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue keeps shares out of structured logs.
func (u *Unsealer) LogValue() slog.Value { return slog.StringValue(redacted) }
