package dsl

import (
	"context"
	"fmt"
	"os"
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
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading cluster definition: %w", err)
	}
	return Load(ctx, path, src, opts)
}

// Load is LoadFile for a definition already in memory.
func Load(ctx context.Context, path string, src []byte, opts Options) (*model.Definition, model.Problems, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".go":
		return EvalScript(ctx, path, src, opts)
	case ".yml", ".yaml":
		if err := checkBinary(path, src); err != nil {
			return nil, nil, err
		}
		return rkeyaml.Parse(path, src)
	default:
		return nil, nil, &Error{Pos: model.Position{File: path}, Msg: fmt.Sprintf("unknown kind of file %q: want a Go cluster script (.go) or an RKE cluster.yml (.yml, .yaml)", ext)}
	}
}
