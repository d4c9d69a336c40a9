//go:build embedevaluator && linux

package dsl

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// evaluatorBinary is the small evaluator (dsl/evaluator), built by make
// before the tool and carried in it; evaluatorDigest names its content.
var (
	//go:embed evaluator.bin
	evaluatorBinary []byte
	//go:embed evaluator.digest
	evaluatorDigest string
)

// embeddedEvaluator runs the carried evaluator. Copying 8 MB into memory
// and freeing it again costs more than the evaluation of a large script,
// so it runs from the user's cache folder, written there once per version
// (under its content's digest, atomically, readable by the user only);
// where that folder cannot hold programs, from a sealed in-memory file.
func embeddedEvaluator(ctx context.Context) (*exec.Cmd, *os.File, error) {
	digest := strings.TrimSpace(evaluatorDigest)
	if dir, err := os.UserCacheDir(); err == nil && digest != "" {
		if path, err := cachedEvaluator(filepath.Join(dir, "docker-rke"), digest); err == nil {
			return exec.CommandContext(ctx, path), nil, nil
		}
	}
	return memoryEvaluator(ctx)
}

// cachedEvaluator returns the evaluator's path in dir, writing it first if
// it is not there. A folder on a noexec mount is refused: nothing could
// run from it.
func cachedEvaluator(dir, digest string) (string, error) {
	path := filepath.Join(dir, "evaluator-"+digest)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(evaluatorBinary)) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return "", err
	}
	if fs.Flags&unix.ST_NOEXEC != 0 {
		return "", errors.New("noexec")
	}
	tmp, err := os.CreateTemp(dir, ".evaluator-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	_, err = tmp.Write(evaluatorBinary)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o500)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		removeOtherEvaluators(dir, path)
	}
	return path, err
}

// removeOtherEvaluators deletes the evaluators earlier versions of the
// tool left in dir (8 MB each), once this version has written its own.
// One still running keeps its file open; the kernel frees it after.
func removeOtherEvaluators(dir, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, "evaluator-*"))
	for _, p := range old {
		if p != keep {
			_ = os.Remove(p)
		}
	}
}

// memoryEvaluator runs the carried evaluator from an anonymous, sealed
// file (memfd) that nothing on disk can change, passed to the child as
// file evaluatorFD and executed through /proc/self/fd. It is reopened
// read-only first: the kernel refuses to execute a file open for writing.
func memoryEvaluator(ctx context.Context) (*exec.Cmd, *os.File, error) {
	fd, err := unix.MemfdCreate("docker-rke-evaluator", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluator in memory: %w", err)
	}
	w := os.NewFile(uintptr(fd), "docker-rke-evaluator")
	defer w.Close()
	if _, err := w.Write(evaluatorBinary); err != nil {
		return nil, nil, fmt.Errorf("evaluator in memory: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		return nil, nil, fmt.Errorf("evaluator in memory: sealing: %w", err)
	}
	r, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return nil, nil, fmt.Errorf("evaluator in memory: %w", err)
	}
	return exec.CommandContext(ctx, fmt.Sprintf("/proc/self/fd/%d", evaluatorFD)), r, nil
}
