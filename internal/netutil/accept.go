// Package netutil holds the small network helpers the servers share.
package netutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Pauses after a failed accept: doubled on each failure in a row, from
// MinAcceptPause up to MaxAcceptPause.
const (
	MinAcceptPause = 5 * time.Millisecond
	MaxAcceptPause = time.Second
)

// AcceptRetrying returns the next connection from ln. It returns an error
// only when accepting is over: ctx.Err() once ctx has ended, an error
// wrapping net.ErrClosed once ln is closed. Any other accept error (EMFILE
// or ENFILE when the process or the system is out of file descriptors,
// ECONNABORTED, ENOBUFS, a timeout, ...) is logged and retried after a
// pause, so that a server out of descriptors accepts again once some are
// freed instead of giving up its port, and a run of failures neither spins
// nor floods the log. This is what upstream's accept thread does (it logs
// and pauses accepting), with a growing pause.
func AcceptRetrying(ctx context.Context, ln net.Listener, log *slog.Logger) (net.Conn, error) {
	pause := MinAcceptPause
	for {
		nc, err := ln.Accept()
		if err == nil {
			return nc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		log.Warn("accept failed; retrying", "addr", ln.Addr().String(), "err", err, "retry_in", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, MaxAcceptPause)
	}
}
