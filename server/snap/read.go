package snap

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"

	"github.com/zkbench/zkbench/server/proto"
)

// Errors callers branch on.
var (
	// ErrCorrupt marks a snapshot that is damaged: truncated, bit-flipped
	// (checksum mismatch), or not a snapshot at all.
	ErrCorrupt = errors.New("snapshot corrupt")
	// ErrUnsupported marks a snapshot in a form this package cannot read
	// (snappy compression, another format version).
	ErrUnsupported = errors.New("snapshot format not supported")
)

// maxUnknownLen bounds one string or buffer when the file size is unknown
// (compressed): far above jute.maxbuffer, far below memory exhaustion.
const maxUnknownLen = 256 << 20

// Reader reads one snapshot: Open reads the header, sessions and ACL cache;
// Next returns the nodes in file order; after the last node it checks the
// seals and reads the digest.
type Reader struct {
	path    string
	f       *os.File
	gz      *gzip.Reader
	in      *bufio.Reader
	sum     hash.Hash32
	off     int64 // bytes of the (uncompressed) stream consumed
	size    int64 // stream size, -1 when compressed
	h       Header
	nodes   int
	done    bool
	err     error
	scratch [8]byte
}

// Open opens the snapshot at path and reads everything before the nodes.
// Header().Zxid comes from the file name (-1 when the name is not a
// snapshot name).
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snap: %w", err)
	}
	r := &Reader{path: path, f: f, sum: adler32.New(), size: -1}
	r.h.Zxid = zxidFromName(filepath.Base(path), snapPrefix)
	switch compression(filepath.Base(path)) {
	case "gz":
		gz, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("snap: %s: gzip: %v: %w", path, err, ErrCorrupt)
		}
		r.gz = gz
		r.in = bufio.NewReaderSize(gz, 256<<10)
	case "snappy":
		f.Close()
		return nil, fmt.Errorf("snap: %s: snappy compression: %w", path, ErrUnsupported)
	default:
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("snap: %w", err)
		}
		r.size = st.Size()
		r.in = bufio.NewReaderSize(f, int(min(st.Size()+16, 256<<10)))
	}
	if err := r.readHead(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Header returns the snapshot's header; Digest is set only once Next has
// returned false (it follows the nodes).
func (r *Reader) Header() Header { return r.h }

// Path returns the file being read.
func (r *Reader) Path() string { return r.path }

// Close releases the file.
func (r *Reader) Close() error {
	if r.gz != nil {
		r.gz.Close()
	}
	return r.f.Close()
}

func (r *Reader) corrupt(at int64, format string, args ...any) error {
	return fmt.Errorf("snap: %s: offset %d: %s: %w", r.path, at, fmt.Sprintf(format, args...), ErrCorrupt)
}

// read fills b from the stream, adding it to the checksum.
func (r *Reader) read(b []byte, what string) error {
	at := r.off
	n, err := io.ReadFull(r.in, b)
	r.sum.Write(b[:n])
	r.off += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return r.corrupt(at, "truncated reading %s (%d of %d bytes)", what, n, len(b))
		}
		return r.corrupt(at, "reading %s: %v", what, err)
	}
	return nil
}

func (r *Reader) int32(what string) (int32, error) {
	b := r.scratch[:4]
	if err := r.read(b, what); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

func (r *Reader) int64(what string) (int64, error) {
	b := r.scratch[:8]
	if err := r.read(b, what); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// count reads a non-negative element count whose elements take at least
// minSize bytes each.
func (r *Reader) count(what string, minSize int64) (int, error) {
	at := r.off
	n, err := r.int32(what)
	if err != nil {
		return 0, err
	}
	if n < 0 || (r.size >= 0 && int64(n)*minSize > r.size-r.off) {
		return 0, r.corrupt(at, "unreasonable %s %d", what, n)
	}
	return int(n), nil
}

// bytes reads a length-prefixed buffer; length -1 gives nil.
func (r *Reader) bytes(what string) ([]byte, error) {
	at := r.off
	n, err := r.int32(what + " length")
	if err != nil {
		return nil, err
	}
	if n == -1 {
		return nil, nil
	}
	if n < 0 || (r.size >= 0 && int64(n) > r.size-r.off) || (r.size < 0 && n > maxUnknownLen) {
		return nil, r.corrupt(at, "unreasonable %s length %d", what, n)
	}
	if r.size < 0 && n > 1<<20 {
		// Compressed: grow as the data arrives rather than trusting n.
		var buf bytes.Buffer
		m, err := io.CopyN(&buf, io.TeeReader(r.in, r.sum), int64(n))
		r.off += m
		if err != nil {
			return nil, r.corrupt(at, "truncated reading %s (%d of %d bytes)", what, m, n)
		}
		return buf.Bytes(), nil
	}
	b := make([]byte, n)
	if err := r.read(b, what); err != nil {
		return nil, err
	}
	return b, nil
}

func (r *Reader) string(what string) (string, error) {
	b, err := r.bytes(what)
	return string(b), err
}

func (r *Reader) readHead() error {
	magic, err := r.int32("file header")
	if err != nil {
		return err
	}
	if magic != Magic {
		return r.corrupt(0, "bad magic %#x, want %#x (\"ZKSN\")", uint32(magic), uint32(Magic))
	}
	version, err := r.int32("file header")
	if err != nil {
		return err
	}
	if version != Version {
		return fmt.Errorf("snap: %s: offset 4: format version %d, want %d: %w", r.path, version, Version, ErrUnsupported)
	}
	if _, err := r.int64("file header dbid"); err != nil {
		return err
	}
	n, err := r.count("session count", 12)
	if err != nil {
		return err
	}
	r.h.Sessions = make(map[int64]int32, n)
	for i := 0; i < n; i++ {
		id, err := r.int64("session id")
		if err != nil {
			return err
		}
		to, err := r.int32("session timeout")
		if err != nil {
			return err
		}
		r.h.Sessions[id] = to
	}
	n, err = r.count("ACL cache size", 12)
	if err != nil {
		return err
	}
	r.h.ACLs = make(map[int64][]proto.ACL, n)
	for i := 0; i < n; i++ {
		ref, err := r.int64("ACL reference")
		if err != nil {
			return err
		}
		m, err := r.count("ACL list length", 12)
		if err != nil {
			return err
		}
		list := make([]proto.ACL, m)
		for j := range list {
			if list[j].Perms, err = r.int32("ACL perms"); err != nil {
				return err
			}
			if list[j].ID.Scheme, err = r.string("ACL scheme"); err != nil {
				return err
			}
			if list[j].ID.ID, err = r.string("ACL id"); err != nil {
				return err
			}
		}
		r.h.ACLs[ref] = list
	}
	return nil
}

// Next returns the next node, or ok=false once the nodes are done and the
// file has been checked to its end. An error is sticky.
func (r *Reader) Next() (n Node, ok bool, err error) {
	if r.err != nil || r.done {
		return Node{}, false, r.err
	}
	defer func() {
		if err != nil {
			r.err = err
		}
	}()
	at := r.off
	path, err := r.string("node path")
	if err != nil {
		return Node{}, false, err
	}
	if path == "/" {
		return Node{}, false, r.finish()
	}
	if r.nodes == 0 && path != "" {
		return Node{}, false, r.corrupt(at, "first node is %q, want the root \"\"", path)
	}
	if r.nodes > 0 && (path == "" || path[0] != '/') {
		return Node{}, false, r.corrupt(at, "bad node path %q", path)
	}
	n.Path = path
	if n.Data, err = r.bytes("node data"); err != nil {
		return Node{}, false, err
	}
	if n.ACLRef, err = r.int64("node ACL reference"); err != nil {
		return Node{}, false, err
	}
	var st [60]byte
	if err := r.read(st[:], "node stat"); err != nil {
		return Node{}, false, err
	}
	d := proto.NewDecoder(st[:])
	n.Stat.Decode(d)
	r.nodes++
	return n, true, nil
}

// checkSeal reads a seal and compares it with the checksum so far.
func (r *Reader) checkSeal(which string) error {
	want := int64(r.sum.Sum32())
	at := r.off
	got, err := r.int64(which + " checksum")
	if err != nil {
		return err
	}
	if got != want {
		return r.corrupt(at, "%s checksum mismatch: file says %#x, content gives %#x", which, got, want)
	}
	s, err := r.string(which + " seal")
	if err != nil {
		return err
	}
	if s != "/" {
		return r.corrupt(at+8, "%s seal is %q, want \"/\"", which, s)
	}
	return nil
}

// finish checks the seal, reads the optional digest and its seal, and
// checks that nothing follows.
func (r *Reader) finish() error {
	if err := r.checkSeal("first"); err != nil {
		return err
	}
	// Is there a digest? Upstream treats EOF here as "an older snapshot".
	if _, err := r.in.Peek(1); err == io.EOF {
		r.done = true
		return nil
	}
	at := r.off
	var d Digest
	var err error
	if d.Zxid, err = r.int64("digest zxid"); err != nil {
		return err
	}
	if d.Version, err = r.int32("digest version"); err != nil {
		return err
	}
	if d.Version < 2 {
		s, err := r.string("digest value")
		if err != nil {
			return err
		}
		if _, err := fmt.Sscanf(s, "%x", &d.Value); err != nil && s != "" {
			return r.corrupt(at, "digest value %q is not hex", s)
		}
	} else if d.Value, err = r.int64("digest value"); err != nil {
		return err
	}
	if err := r.checkSeal("second"); err != nil {
		return err
	}
	if _, err := r.in.Peek(1); err != io.EOF {
		return r.corrupt(r.off, "trailing bytes after the snapshot")
	}
	r.h.Digest = &d
	r.done = true
	return nil
}

// Drain reads the remaining nodes, discarding them, so that the whole file
// is checked.
func (r *Reader) Drain() error {
	for {
		_, ok, err := r.Next()
		if err != nil || !ok {
			return err
		}
	}
}
