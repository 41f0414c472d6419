package ingest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/leaktrace/leaktrace/ingest"
)

func FuzzParseMessage(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatalf("glob fixtures: %v", err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatalf("read fixture: %v", err)
		}
		f.Add(raw)
	}
	// Small limits so that the fuzzer reaches them with small inputs.
	lim := ingest.Limits{MaxParts: 20, MaxDepth: 4, MaxHeaderBytes: 512, MaxTextBytes: 1024}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, l := range []ingest.Limits{lim, ingest.DefaultLimits()} {
			before := bytes.Clone(raw)
			m, err := parseDeterministic(t, raw, l) // checks UTF-8, text budget, determinism, raw unchanged
			if !bytes.Equal(raw, before) {
				t.Fatalf("ParseMessage modified its input")
			}
			if err != nil && m != nil {
				t.Fatalf("ParseMessage=%+v with error %v, want nil", m, err)
			}
			if err == nil && m == nil {
				t.Fatalf("ParseMessage=nil with no error")
			}
		}
	})
}
