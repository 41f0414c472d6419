package ingest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Maildir records every message in the cur/ and new/ folders under root
// (Maildir++ subfolders included), one file at a time. It only reads: no
// file is renamed, flagged or moved. Files over max bytes are skipped and
// reported, never cut. each is called after every message; an error from
// it stops the import.
func (in *Ingester) Maildir(ctx context.Context, root string, max int64, each func(FileResult) error) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("maildir %s: %w", root, err)
	}
	if _, err := os.Stat(filepath.Join(abs, "cur")); err != nil {
		if _, err2 := os.Stat(filepath.Join(abs, "new")); err2 != nil {
			if !hasMaildirBelow(abs) {
				return fmt.Errorf("%s is not a Maildir: it has no cur/ or new/ folder", root)
			}
		}
	}
	return filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "tmp" {
				return fs.SkipDir // messages still being delivered
			}
			return nil
		}
		parent := filepath.Base(filepath.Dir(p))
		if (parent != "cur" && parent != "new") || strings.HasPrefix(d.Name(), ".") || !d.Type().IsRegular() {
			return nil
		}
		res := FileResult{Where: "maildir:" + p}
		raw, err := readMaildirFile(p, max)
		switch {
		case err == errMaildirTooLarge:
			res.Skipped = fmt.Sprintf("over the %d-byte limit", max)
		case err != nil:
			return err
		case len(strings.TrimSpace(string(raw))) == 0:
			res.Skipped = "empty file"
		default:
			rec, err := in.emailFrom(ctx, raw, res.Where, mailOrigin{})
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			res.Recorded = rec
		}
		if each != nil {
			return each(res)
		}
		return nil
	})
}

func hasMaildirBelow(root string) bool {
	found := false
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && (d.Name() == "cur" || d.Name() == "new") {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}

var errMaildirTooLarge = fmt.Errorf("file too large")

func readMaildirFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, errMaildirTooLarge
	}
	return b, nil
}
