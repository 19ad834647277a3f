package config

import (
	"errors"
	"fmt"
)

// Error is a configuration problem, located in the file (and line, when one
// line is to blame) that caused it.
type Error struct {
	File string // the file read: zoo.cfg, its dynamic file, or dataDir/myid
	Line int    // 1-based physical line; 0 when no single line is to blame
	Key  string // the key concerned, if any
	Msg  string
}

// Error renders "file:line: key: msg", leaving out what is unknown.
func (e *Error) Error() string {
	s := e.File
	if s == "" {
		s = "config"
	}
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Key != "" {
		s += ": " + e.Key
	}
	return s + ": " + e.Msg
}

// Is makes errors.Is(err, ErrMyID) true for problems with the myid file.
func (e *Error) Is(target error) bool {
	return target == ErrMyID && e.Key == "myid"
}

// ErrMyID matches (with errors.Is) every error about the myid file: missing
// when the configuration is a quorum, unreadable, not a number, or naming a
// server the configuration does not list.
var ErrMyID = errors.New("config: bad myid")
