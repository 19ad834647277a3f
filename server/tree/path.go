package tree

import (
	"fmt"
	"unicode/utf8"

	"github.com/zkbench/zkbench/server/proto"
)

// ValidatePath checks a znode path by upstream PathUtils.validatePath rules.
// For a sequential create the path is checked with a digit appended, as
// upstream does, so "/a/" is a valid sequential prefix. The error wraps
// proto.ErrBadArguments and carries upstream's reason; positions ("@3") count
// UTF-16 code units as Java does.
//
// Java checks UTF-16 code units; a Go string is UTF-8, so a rune beyond the
// Basic Multilingual Plane (a surrogate pair in Java) and bytes that are not
// valid UTF-8 (U+FFFD once Java decodes them) are rejected as invalid
// characters, as upstream rejects them.
func ValidatePath(path string, sequential bool) error {
	if sequential {
		path += "1"
	}
	if reason := pathProblem(path); reason != "" {
		return fmt.Errorf("tree: %w: %s", proto.ErrBadArguments, reason)
	}
	return nil
}

func pathProblem(path string) string {
	if len(path) == 0 {
		return "Path length must be > 0"
	}
	if path[0] != '/' {
		return "Path must start with / character"
	}
	if len(path) == 1 {
		return ""
	}
	if path[len(path)-1] == '/' {
		return "Path must not end with / character"
	}
	bad := func(why string, at int) string {
		return fmt.Sprintf("Invalid path string \"%s\" caused by %s @%d", path, why, at)
	}
	pos := 1 // index in UTF-16 code units, as Java's char index
	for i := 1; i < len(path); {
		c, size := utf8.DecodeRuneInString(path[i:])
		prev := path[i-1]
		switch {
		case c == 0:
			return bad("null character not allowed", pos)
		case c == '/' && prev == '/':
			return bad("empty node name specified", pos)
		case c == '.' && prev == '.':
			if i >= 2 && path[i-2] == '/' && (i+1 == len(path) || path[i+1] == '/') {
				return bad("relative paths not allowed", pos)
			}
		case c == '.':
			if prev == '/' && (i+1 == len(path) || path[i+1] == '/') {
				return bad("relative paths not allowed", pos)
			}
		case c == utf8.RuneError && size == 1,
			c > 0 && c <= 0x1f,
			c >= 0x7f && c <= 0x9f,
			c >= 0xd800 && c <= 0xf8ff,
			c >= 0xfff0:
			return bad("invalid character", pos)
		}
		i += size
		pos++
	}
	return ""
}

// parentOf splits a valid non-root path into its parent path and last name.
// The parent of "/a" is "/".
func parentOf(path string) (parent, name string) {
	i := len(path) - 1
	for i >= 0 && path[i] != '/' {
		i--
	}
	if i <= 0 {
		return "/", path[i+1:]
	}
	return path[:i], path[i+1:]
}
