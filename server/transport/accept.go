package transport

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
)

// Pauses after a failed accept: doubled on each failure in a row, from
// minAcceptPause up to maxAcceptPause.
const (
	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = time.Second
)

// acceptRetrying returns the next connection from ln. It returns an error
// only when listening is over: ctx.Err() once ctx ended, ErrClosed once ln
// was closed. Any other accept error — EMFILE
// or ENFILE when the process or the system is out of file descriptors,
// ECONNABORTED, ENOBUFS, ... — is logged and retried after a pause, so
// that a server out of descriptors starts accepting again once some are
// freed instead of losing its port for good, and so that a burst of
// failures neither spins nor floods the log.
func acceptRetrying(ctx context.Context, ln net.Listener, log *slog.Logger) (net.Conn, error) {
	pause := minAcceptPause
	for {
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, ErrClosed
		}
		log.Error("transport: accept failed; retrying", "addr", ln.Addr().String(), "err", err, "retry_in", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, maxAcceptPause)
	}
}
