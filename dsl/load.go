package dsl

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/docker-rke/docker-rke/dsl/rkeyaml"
	"github.com/docker-rke/docker-rke/model"
)

// LoadFile reads a cluster definition: a Go cluster script (.go) or an RKE
// cluster.yml (.yml, .yaml). It returns the validated definition with
// defaults applied, and the warnings found. On error, the error lists every
// problem with file, line and field.
func LoadFile(ctx context.Context, path string, opts Options) (*model.Definition, model.Problems, error) {
	src, err := readDefinition(path)
	if err != nil {
		return nil, nil, err
	}
	return Load(ctx, path, src, opts)
}

// MaxDefinitionSize bounds a cluster definition file. The largest real one,
// a thousand nodes written out by hand, is a few hundred kilobytes.
const MaxDefinitionSize = 1 << 20

// readDefinition reads a regular file of at most MaxDefinitionSize bytes.
// A named pipe, a device such as /dev/zero (or a symlink to one) or a
// directory is refused before a byte is read: reading them would block
// forever or never end.
func readDefinition(path string) ([]byte, error) {
	at := model.Position{File: path}
	f, err := openNonblocking(path)
	if err != nil {
		return nil, fmt.Errorf("reading cluster definition: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading cluster definition: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Pos: at, Msg: fmt.Sprintf("not a regular file (%s); want a Go cluster script or a cluster.yml", fileKind(fi.Mode()))}
	}
	if fi.Size() > MaxDefinitionSize {
		return nil, tooBig(path, fi.Size())
	}
	// The size may grow while we read; never read past the limit.
	src, err := io.ReadAll(io.LimitReader(f, MaxDefinitionSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading cluster definition %s: %w", path, err)
	}
	if len(src) > MaxDefinitionSize {
		return nil, tooBig(path, int64(len(src)))
	}
	return src, nil
}

func tooBig(path string, size int64) error {
	return &Error{Pos: model.Position{File: path}, Msg: fmt.Sprintf("file is %d bytes; the limit for a cluster definition is %d", size, MaxDefinitionSize)}
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file"
}

// Load is LoadFile for a definition already in memory.
func Load(ctx context.Context, path string, src []byte, opts Options) (*model.Definition, model.Problems, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".go":
		return EvalScript(ctx, path, src, opts)
	case ".yml", ".yaml":
		if len(src) > MaxDefinitionSize {
			return nil, nil, tooBig(path, int64(len(src)))
		}
		if err := checkBinary(path, src); err != nil {
			return nil, nil, err
		}
		return rkeyaml.Parse(path, src)
	default:
		return nil, nil, &Error{Pos: model.Position{File: path}, Msg: fmt.Sprintf("unknown kind of file %q: want a Go cluster script (.go) or an RKE cluster.yml (.yml, .yaml)", ext)}
	}
}
