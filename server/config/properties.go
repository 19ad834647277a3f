package config

import (
	"errors"
	"strings"
	"unicode/utf16"
)

// entry is one key/value pair of a Java properties file, with the physical
// line its logical line starts on.
type entry struct {
	Key, Value string
	Line       int
}

// errMalformedUnicode is what java.util.Properties reports for a bad \uXXXX.
var errMalformedUnicode = errors.New(`malformed \uxxxx escape`)

// readProperties parses data exactly as java.util.Properties.load(InputStream)
// does: the bytes are ISO-8859-1; lines end with \n, \r or \r\n; a line whose
// first non-blank character is # or ! is a comment; an odd number of
// backslashes at the end of a line joins it to the next (whose leading blanks
// are dropped); the key ends at the first unescaped '=', ':' or blank, and
// blanks then one optional '=' or ':' then blanks separate it from the value;
// escapes \t \n \r \f \uXXXX are decoded and any other \c means c.
// Entries come back in file order, duplicates included (the caller decides
// which wins: java.util.Properties keeps the last).
func readProperties(data []byte) ([]entry, error) {
	in := make([]rune, len(data))
	for i, b := range data {
		in[i] = rune(b) // ISO-8859-1
	}
	lr := lineReader{in: in, line: 1}
	var out []entry
	for {
		buf, line, ok := lr.readLine()
		if !ok {
			return out, nil
		}
		key, value := splitKeyValue(buf)
		k, err := loadConvert(key)
		if err != nil {
			return out, &Error{Line: line, Msg: "key: " + err.Error()}
		}
		v, err := loadConvert(value)
		if err != nil {
			return out, &Error{Line: line, Key: k, Msg: err.Error()}
		}
		out = append(out, entry{Key: k, Value: v, Line: line})
	}
}

type lineReader struct {
	in   []rune
	off  int
	line int // physical line of in[off]
}

// newline accounts for the terminator c just consumed, swallowing the \n of
// a \r\n pair.
func (lr *lineReader) newline(c rune) {
	if c == '\r' && lr.off < len(lr.in) && lr.in[lr.off] == '\n' {
		lr.off++
	}
	lr.line++
}

// readLine returns the next logical line with continuations joined, the
// physical line it starts on, and false at the end of input. It follows
// java.util.Properties.LineReader step by step.
func (lr *lineReader) readLine() ([]rune, int, bool) {
	var buf []rune
	start := lr.line
	skipWhite := true
	appendedLineBegin := false
	precedingBackslash := false
	for {
		if lr.off >= len(lr.in) {
			if len(buf) == 0 {
				return nil, 0, false
			}
			if precedingBackslash {
				buf = buf[:len(buf)-1]
			}
			return buf, start, true
		}
		c := lr.in[lr.off]
		lr.off++
		if skipWhite {
			if c == ' ' || c == '\t' || c == '\f' {
				continue
			}
			if !appendedLineBegin && (c == '\r' || c == '\n') {
				lr.newline(c)
				continue
			}
			skipWhite = false
			appendedLineBegin = false
		}
		if len(buf) == 0 && (c == '#' || c == '!') {
			for lr.off < len(lr.in) {
				c := lr.in[lr.off]
				lr.off++
				if c == '\r' || c == '\n' {
					lr.newline(c)
					break
				}
			}
			skipWhite = true
			continue
		}
		if c != '\n' && c != '\r' {
			if len(buf) == 0 {
				start = lr.line
			}
			buf = append(buf, c)
			precedingBackslash = c == '\\' && !precedingBackslash
			continue
		}
		lr.newline(c)
		if len(buf) == 0 {
			skipWhite = true
			continue
		}
		if !precedingBackslash {
			return buf, start, true
		}
		buf = buf[:len(buf)-1]
		skipWhite = true
		appendedLineBegin = true
		precedingBackslash = false
	}
}

func isBlank(c rune) bool { return c == ' ' || c == '\t' || c == '\f' }

// splitKeyValue separates a logical line into raw (still escaped) key and
// value the way Properties.load0 does.
func splitKeyValue(line []rune) (key, value []rune) {
	keyLen := 0
	valueStart := len(line)
	hasSep := false
	precedingBackslash := false
	for keyLen < len(line) {
		c := line[keyLen]
		if (c == '=' || c == ':') && !precedingBackslash {
			valueStart = keyLen + 1
			hasSep = true
			break
		}
		if isBlank(c) && !precedingBackslash {
			valueStart = keyLen + 1
			break
		}
		precedingBackslash = c == '\\' && !precedingBackslash
		keyLen++
	}
	for valueStart < len(line) {
		c := line[valueStart]
		if !isBlank(c) {
			if !hasSep && (c == '=' || c == ':') {
				hasSep = true
			} else {
				break
			}
		}
		valueStart++
	}
	return line[:keyLen], line[valueStart:]
}

// loadConvert decodes the escapes of a key or value.
func loadConvert(s []rune) (string, error) {
	var u16 []uint16
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			c = s[i]
			switch c {
			case 'u':
				if i+4 >= len(s) {
					return "", errMalformedUnicode
				}
				var v rune
				for _, h := range s[i+1 : i+5] {
					switch {
					case h >= '0' && h <= '9':
						v = v<<4 + h - '0'
					case h >= 'a' && h <= 'f':
						v = v<<4 + h - 'a' + 10
					case h >= 'A' && h <= 'F':
						v = v<<4 + h - 'A' + 10
					default:
						return "", errMalformedUnicode
					}
				}
				i += 4
				c = v
			case 't':
				c = '\t'
			case 'r':
				c = '\r'
			case 'n':
				c = '\n'
			case 'f':
				c = '\f'
			}
		}
		u16 = append(u16, uint16(c)) // every rune here is <= 0xFFFF
	}
	return string(utf16.Decode(u16)), nil
}

// javaTrim is String.trim: it drops every char <= ' ' from both ends.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}
