package tarball

import (
	"archive/tar"
	"bytes"
	"io"
	"slices"
	"testing"
)

func TestArchive(t *testing.T) {
	data, err := Bytes(WithParents([]Entry{
		File("etc/kubernetes/ssl/ca.pem", 0o644, []byte("ca")),
		File("etc/cni/net.d/10.conflist", 0o644, []byte("{}")),
		{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: "var/run", Linkname: "/run", Mode: 0o777}},
	})...)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	contents := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			contents[h.Name] = string(b)
		}
	}
	want := []string{"etc/", "etc/cni/", "etc/cni/net.d/", "etc/kubernetes/", "etc/kubernetes/ssl/", "var/", "etc/kubernetes/ssl/ca.pem", "etc/cni/net.d/10.conflist", "var/run"}
	if !slices.Equal(names, want) {
		t.Errorf("entries %v, want %v", names, want)
	}
	if contents["etc/kubernetes/ssl/ca.pem"] != "ca" {
		t.Errorf("contents %v", contents)
	}
}
