package domain

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
	"time"
)

// NewID returns 128 random bits as 32 lowercase hex characters: click IDs, conversion IDs and
// webhook ids. crypto/rand never fails on supported platforms (it panics instead of returning weak
// bytes), so callers need no error path.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	var out [32]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// IsID reports whether s looks like an ID made by NewID.
func IsID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ClickIDKeySize is the least length in bytes of the key that authenticates click IDs (CLICK_ID_KEY).
const ClickIDKeySize = 32

// ClickIDKey is the secret that authenticates click IDs (CLICK_ID_KEY): only its holder can mint
// one, so the worker can tell a click this deployment has just redirected (wait for the writer to
// store it) from a forged cookie (one lookup, no wait): issue 8, finding 2. It keeps its own pool
// of keyed MACs, because hmac.New derives both pads from the key and allocates two digests each
// time, which was most of a click ID's cost. Use it by pointer; it is safe for concurrent use.
type ClickIDKey struct {
	secret []byte
	macs   sync.Pool // of *keyedMAC
}

// keyedMAC is one pooled MAC with the scratch space of an ID, so minting one allocates only its
// string (an array on the stack would escape through rand.Read).
type keyedMAC struct {
	mac hash.Hash
	sum [sha256.Size]byte
	id  [16]byte
}

// NewClickIDKey returns a random key of ClickIDKeySize bytes, for a process that was given no
// CLICK_ID_KEY: IDs it mints are authentic only to itself.
func NewClickIDKey() *ClickIDKey {
	secret := make([]byte, ClickIDKeySize)
	_, _ = rand.Read(secret)
	k, _ := ClickIDKeyFrom(secret)
	return k
}

// ClickIDKeyFrom makes the key of secret (CLICK_ID_KEY decoded), which must hold at least
// ClickIDKeySize bytes.
func ClickIDKeyFrom(secret []byte) (*ClickIDKey, error) {
	if len(secret) < ClickIDKeySize {
		return nil, fmt.Errorf("a click ID key needs at least %d bytes, not %d", ClickIDKeySize, len(secret))
	}
	k := &ClickIDKey{secret: bytes.Clone(secret)}
	k.macs.New = func() any { return &keyedMAC{mac: hmac.New(sha256.New, k.secret)} }
	return k, nil
}

// Secret returns a copy of the key's bytes, to hand the same key to another process (CLICK_ID_KEY).
func (k *ClickIDKey) Secret() []byte { return bytes.Clone(k.secret) }

// NewClickID returns a click ID minted at now: 16 bytes as 32 lowercase hex. Bytes 0-3 are the
// creation time (Unix seconds, big-endian), 4-9 random, 10-15 the first 6 bytes of
// HMAC-SHA256(key, bytes 0-9). 96 bits are unguessable (48 random, 48 MAC).
func (k *ClickIDKey) NewClickID(now time.Time) string {
	m := k.macs.Get().(*keyedMAC)
	defer k.macs.Put(m)
	b := m.id[:]
	binary.BigEndian.PutUint32(b[0:4], uint32(now.Unix()))
	_, _ = rand.Read(b[4:10])
	tag := m.tag(b[:10])
	copy(b[10:], tag[:])
	var out [32]byte
	hex.Encode(out[:], b)
	return string(out[:])
}

// Verify returns the creation time a click ID encodes and whether its tag is authentic under k.
// A malformed ID, or one made before this format (128 random bits, still valid for lookups), is
// not authentic; nothing is authentic under a nil key.
func (k *ClickIDKey) Verify(id string) (createdAt time.Time, authentic bool) {
	if k == nil || !IsID(id) {
		return time.Time{}, false
	}
	m := k.macs.Get().(*keyedMAC)
	defer k.macs.Put(m)
	b := m.id[:]
	_, _ = hex.Decode(b, []byte(id))
	createdAt = time.Unix(int64(binary.BigEndian.Uint32(b[0:4])), 0).UTC()
	tag := m.tag(b[:10])
	return createdAt, hmac.Equal(b[10:], tag[:])
}

// tag is the first 6 bytes of HMAC-SHA256(key, msg).
func (m *keyedMAC) tag(msg []byte) [6]byte {
	m.mac.Reset()
	m.mac.Write(msg)
	var tag [6]byte
	copy(tag[:], m.mac.Sum(m.sum[:0]))
	return tag
}

// ClickIDTime returns the creation time encoded in a well-formed click ID, to the second, without
// authenticating it: for pruning by time where a wrong answer only costs a wider search. An ID of
// the pre-format kind yields an arbitrary time; ok is false only when id is malformed.
func ClickIDTime(id string) (t time.Time, ok bool) {
	var b [4]byte
	if !IsID(id) {
		return time.Time{}, false
	}
	_, _ = hex.Decode(b[:], []byte(id[:8]))
	return time.Unix(int64(binary.BigEndian.Uint32(b[:])), 0).UTC(), true
}
