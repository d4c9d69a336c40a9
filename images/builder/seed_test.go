package builder

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// TestFilterStore keeps a store's own directory and the listed
// subdirectories, under seed/<parent>/, with hard links renamed alike and
// symbolic links left as they point.
func TestFilterStore(t *testing.T) {
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	entries := []tar.Header{
		{Name: "docker/", Typeflag: tar.TypeDir, Mode: 0o710},
		{Name: "docker/image/", Typeflag: tar.TypeDir, Mode: 0o700},
		{Name: "docker/image/repositories.json", Typeflag: tar.TypeReg, Mode: 0o600, Size: 2},
		{Name: "docker/overlay2/l/ABC", Typeflag: tar.TypeSymlink, Linkname: "../123/diff"},
		{Name: "docker/overlay2/123/diff/x", Typeflag: tar.TypeLink, Linkname: "docker/image/repositories.json"},
		{Name: "docker/network/files/local-kv.db", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2},
		{Name: "docker/engine-id", Typeflag: tar.TypeReg, Mode: 0o600, Size: 2},
		{Name: "docker/imagex/not-image", Typeflag: tar.TypeReg, Mode: 0o600, Size: 2},
	}
	for _, h := range entries {
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte("{}")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	ow := tar.NewWriter(&out)
	if err := filterStore(ow, &in, "/var/lib", []string{"image", "overlay2"}); err != nil {
		t.Fatal(err)
	}
	if err := ow.Close(); err != nil {
		t.Fatal(err)
	}
	type entry struct{ name, link string }
	var got []entry
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, entry{h.Name, h.Linkname})
	}
	want := []entry{
		{"seed/var/lib/docker/", ""},
		{"seed/var/lib/docker/image/", ""},
		{"seed/var/lib/docker/image/repositories.json", ""},
		{"seed/var/lib/docker/overlay2/l/ABC", "../123/diff"},
		{"seed/var/lib/docker/overlay2/123/diff/x", "seed/var/lib/docker/image/repositories.json"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("filtered entries:\n got %v\nwant %v", got, want)
	}
}

func TestGoArch(t *testing.T) {
	for machine, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"} {
		if got, ok := goArch(machine); !ok || got != want {
			t.Errorf("goArch(%q) = %q, %v", machine, got, ok)
		}
	}
	if _, ok := goArch("s390x"); ok {
		t.Error("an architecture docker rke never built for was accepted")
	}
}
