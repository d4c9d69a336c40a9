package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Lock takes the machine-wide image build lock, waiting for another build
// to finish. The kernel releases a flock when its holder dies, so a killed
// build never leaves a stale lock.
func Lock(ctx context.Context, progress func(string)) (unlock func(), err error) {
	return lockFile(ctx, filepath.Join(os.TempDir(), "docker-rke-images.lock"), progress)
}

func lockFile(ctx context.Context, path string, progress func(string)) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image build lock %s: %w", path, err)
	}
	try := func() bool { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil }
	if !try() {
		if progress != nil {
			progress("another image build is running: waiting for it")
		}
		err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, false, func(context.Context) (bool, error) { return try(), nil })
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("waiting for the image build lock %s: %w", path, err)
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
