package domain

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sync"
	"sync/atomic"
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

// NewClickID returns a click ID minted at now: 16 bytes as 32 lowercase hex. Bytes 0-3 are the
// creation time (Unix seconds, big-endian), 4-9 random, 10-15 the first 6 bytes of
// HMAC-SHA256(key, bytes 0-9). Only a holder of the key can mint one, so the worker can tell a
// click this deployment has just redirected (wait for the writer to store it) from a forged
// cookie (one lookup, no wait): issue 8, finding 2. 96 bits are unguessable (48 random, 48 MAC).
func NewClickID(key []byte, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(now.Unix()))
	_, _ = rand.Read(b[4:10])
	tag := clickIDTag(key, b[:10])
	copy(b[10:], tag[:])
	var out [32]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// VerifyClickID returns the creation time a click ID encodes and whether its tag is authentic
// under key. A malformed ID, or one made before this format (128 random bits, still valid for
// lookups), is not authentic.
func VerifyClickID(key []byte, id string) (createdAt time.Time, authentic bool) {
	var b [16]byte
	if !IsID(id) || len(key) == 0 {
		return time.Time{}, false
	}
	_, _ = hex.Decode(b[:], []byte(id))
	createdAt = time.Unix(int64(binary.BigEndian.Uint32(b[0:4])), 0).UTC()
	tag := clickIDTag(key, b[:10])
	return createdAt, hmac.Equal(b[10:], tag[:])
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

// clickIDTag is the first 6 bytes of HMAC-SHA256(key, msg). It runs on every click, so keyed
// MACs are reused: hmac.New derives both pads from the key and allocates two digests each time,
// which was most of a click ID's cost.
func clickIDTag(key, msg []byte) [6]byte {
	p := clickMACs.Load()
	if p == nil || !bytes.Equal(p.key, key) {
		p = newMACPool(key) // a process has one key; tests switch between a few
		clickMACs.Store(p)
	}
	m := p.pool.Get().(*keyedMAC)
	m.mac.Reset()
	m.mac.Write(msg)
	var tag [6]byte
	copy(tag[:], m.mac.Sum(m.sum[:0]))
	p.pool.Put(m)
	return tag
}

// clickMACs is the pool of MACs under the key last used.
var clickMACs atomic.Pointer[macPool]

type macPool struct {
	key  []byte
	pool sync.Pool // of *keyedMAC
}

type keyedMAC struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

func newMACPool(key []byte) *macPool {
	p := &macPool{key: bytes.Clone(key)}
	p.pool.New = func() any { return &keyedMAC{mac: hmac.New(sha256.New, p.key)} }
	return p
}

// NewClickIDKey returns a random key of ClickIDKeySize bytes, for a process that was given no
// CLICK_ID_KEY: IDs it mints are authentic only to itself.
func NewClickIDKey() []byte {
	k := make([]byte, ClickIDKeySize)
	_, _ = rand.Read(k)
	return k
}
