package zkbin

import (
	"archive/zip"
	"bufio"
	"fmt"
	"strings"
)

// pomProperties is where Maven puts a jar's coordinates and version.
const pomProperties = "META-INF/maven/org.apache.zookeeper/zookeeper/pom.properties"

// JarVersion returns the version of upstream ZooKeeper's jar at path (its
// Maven pom.properties, as "3.8.0"), for the record of what a run measured.
func JarVersion(path string) (string, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return "", fmt.Errorf("zkbin: jar version: %w", err)
	}
	defer zr.Close()
	f, err := zr.Open(pomProperties)
	if err != nil {
		return "", fmt.Errorf("zkbin: jar version of %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "version="); ok && v != "" {
			return v, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("zkbin: jar version of %s: %w", path, err)
	}
	return "", fmt.Errorf("zkbin: jar version of %s: no version in %s", path, pomProperties)
}
