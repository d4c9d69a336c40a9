// Package digest names things by their content, as docker rke's image
// tags, spec labels and file hashes do: the first hex digits of a SHA-256.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
)

// Lengths of the names, in hex digits.
const (
	// Label is for labels and recipe hashes, compared, never typed.
	Label = 16
	// Tag is for image tags, which people read and type.
	Tag = 12
)

// New starts a hash to feed.
func New() hash.Hash { return sha256.New() }

// Short is the first n hex digits of what h was fed.
func Short(h hash.Hash, n int) string { return hex.EncodeToString(h.Sum(nil))[:n] }

// JSON is the first n hex digits of the SHA-256 of v's JSON, which is
// deterministic for plain data (map keys are sorted). v must be plain
// data: anything JSON cannot encode is a programming error.
func JSON(v any, n int) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic("digest: " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:n]
}
