//go:build !unix

package ingest

import "errors"

// diskFree is not measured on this system: the floor is not enforced.
func diskFree(string) (uint64, error) {
	return 0, errors.New("free disk space is not measured on this system")
}
