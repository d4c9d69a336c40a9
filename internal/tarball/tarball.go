// Package tarball writes tar archives from data in memory: the files docker
// rke sends into nodes, the build contexts it gives the engine, the state
// it keeps.
package tarball

import (
	"archive/tar"
	"bytes"
	"path"
	"sort"
	"strings"
)

// Entry is one entry of an archive: a regular file with Data, or a
// directory or link as its header says.
type Entry struct {
	tar.Header
	Data []byte
}

// File is a regular file.
func File(name string, mode int64, data []byte) Entry {
	return Entry{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode}, Data: data}
}

// Add writes entries to tw, in order; a regular file's size is its data's.
func Add(tw *tar.Writer, entries ...Entry) error {
	for _, e := range entries {
		h := e.Header
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.Data); err != nil {
				return err
			}
		}
	}
	return nil
}

// Bytes is a whole archive of entries.
func Bytes(entries ...Entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := Add(tw, entries...); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WithParents puts ahead of entries a directory entry (mode 0755) for each
// of their parent directories, once each and parents first, so that the
// archive unpacks anywhere.
func WithParents(entries []Entry) []Entry {
	seen := map[string]bool{}
	var dirs []string
	for _, e := range entries {
		for d := path.Dir(strings.TrimSuffix(e.Name, "/")); d != "." && d != "/" && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	// A parent's name is a prefix of its children's: sorted, parents come
	// first.
	sort.Strings(dirs)
	out := make([]Entry, 0, len(dirs)+len(entries))
	for _, d := range dirs {
		out = append(out, Entry{Header: tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}})
	}
	return append(out, entries...)
}
