package templates

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"unicode/utf8"
)

// NameHashLen is the number of hex characters DeterministicName appends.
//
// 10 hex characters are 40 bits. A collision between two different events
// would make the second look like a redelivery of the first (its create
// fails with AlreadyExists), so the space must be large: among n live
// resources sharing a generateName prefix in one namespace the chance of
// any collision is about n²/2⁴¹, i.e. 1 in 20,000 at 10,000 resources and
// 1 in 2 million at 1,000. Kubernetes' own 5-character suffix (about 24
// bits) is fine only because the API server retries on conflict.
const NameHashLen = 10

// maxNameLen is the DNS label limit; PipelineRun and TaskRun names are also
// used as label values, which have the same limit.
const maxNameLen = 63

// DeterministicName returns the name used instead of generateName when
// Options.NameSeed is set: the prefix (cut so the name fits 63 characters)
// followed by the first NameHashLen hex characters of
// sha256(seed + "/" + index). The same seed and index always give the same
// name, so a redelivered event maps to the resources it already created.
func DeterministicName(generateName, seed string, index int) string {
	h := sha256.New()
	h.Write([]byte(seed))
	var tail [24]byte
	h.Write(strconv.AppendInt(append(tail[:0], '/'), int64(index), 10))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	prefix := generateName
	if len(prefix) > maxNameLen-NameHashLen {
		cut := maxNameLen - NameHashLen
		for cut > 0 && !utf8.RuneStart(prefix[cut]) {
			cut--
		}
		prefix = prefix[:cut]
	}
	var digits [NameHashLen]byte
	hex.Encode(digits[:], sum[:NameHashLen/2])
	return prefix + string(digits[:])
}

// uidAlphabet is the alphabet of Kubernetes generated name suffixes: lower
// case consonants and digits, so no words and no look-alike characters.
const uidAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// uidLen is the length of a generated $(uid), like a generateName suffix.
const uidLen = 5

// randomUID returns uidLen random characters from uidAlphabet.
func randomUID() string {
	out := make([]byte, 0, uidLen)
	var buf [16]byte
	// Reject bytes that would bias the modulo; 243 = 9 * len(uidAlphabet).
	const limit = 256 - 256%len(uidAlphabet)
	for len(out) < uidLen {
		_, _ = rand.Read(buf[:]) // never fails (crypto/rand.Read panics instead)
		for _, c := range buf {
			if int(c) < limit && len(out) < uidLen {
				out = append(out, uidAlphabet[int(c)%len(uidAlphabet)])
			}
		}
	}
	return string(out)
}
