package noop

import (
	"fmt"
	"time"
)

// fourLetterWord reports whether the connection opened with one of the
// four-letter words this server answers. Upstream recognises them the same
// way: in place of the first frame's length prefix.
func (c *conn) fourLetterWord() (string, bool) {
	b, err := c.br.Peek(4)
	if err != nil {
		return "", false
	}
	switch w := string(b); w {
	case "ruok", "isro", "srvr", "stat":
		return w, true
	}
	return "", false
}

// answerFourLetterWord writes the answer to word; the caller then closes
// the connection, as upstream does.
func (c *conn) answerFourLetterWord(word string) {
	var out string
	switch word {
	case "ruok":
		out = "imok"
	case "isro":
		out = "rw"
	case "srvr", "stat":
		s := c.s
		out = fmt.Sprintf("Zookeeper version: %s, built on %s\n",
			Version, time.UnixMilli(s.startMs).UTC().Format("01/02/2006 15:04 MST"))
		if word == "stat" {
			out += "Clients:\n\n" // upstream lists connections here; we do not
		}
		out += fmt.Sprintf("Latency min/avg/max: 0/0.0/0\n"+
			"Received: %d\nSent: %d\nConnections: %d\nOutstanding: 0\n"+
			"Zxid: 0x%x\nMode: standalone\nNode count: 1\n",
			s.received.Load(), s.sent.Load(), s.connCount.Load(), s.zxid.Load())
	}
	c.nc.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	c.nc.Write([]byte(out))
}
