//go:build unix

package ingest

import "golang.org/x/sys/unix"

// diskFree is the space an unprivileged writer may still use at path.
func diskFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
