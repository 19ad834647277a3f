package zkbin

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"
)

// TestJarVersionDebian reads the version of Debian's upstream jar, which
// the package also installs under its versioned name.
func TestJarVersionDebian(t *testing.T) {
	v, err := JarVersion(ZookeeperJar)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(DebianJavaDir, "zookeeper-"+v+".jar")); err != nil {
		t.Errorf("JarVersion(%s) = %q, but there is no zookeeper-%s.jar beside it: %v", ZookeeperJar, v, v, err)
	}
}

func TestJarVersion(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, files map[string]string) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		for n, body := range files {
			w, _ := zw.Create(n)
			w.Write([]byte(body))
		}
		zw.Close()
		f.Close()
		return p
	}
	good := write("good.jar", map[string]string{pomProperties: "#Generated\nartifactId=zookeeper\nversion=3.9.2\ngroupId=org.apache.zookeeper\n"})
	if v, err := JarVersion(good); v != "3.9.2" || err != nil {
		t.Errorf("JarVersion = %q, %v; want 3.9.2", v, err)
	}
	none := write("none.jar", map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"})
	if v, err := JarVersion(none); err == nil {
		t.Errorf("a jar without %s: %q, no error", pomProperties, v)
	}
	if _, err := JarVersion(filepath.Join(dir, "missing.jar")); err == nil {
		t.Error("a missing jar: no error")
	}
}
