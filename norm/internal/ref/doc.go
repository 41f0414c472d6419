// Package ref is package norm as it was before its fast paths (commit
// b65f704), frozen: the differential tests of norm check that every fast
// path gives what this code gives, byte for byte. It is not changed to
// follow norm: it changes only where norm's results are meant to change,
// in the same commit.
package ref
