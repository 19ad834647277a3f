package proto

// ResetTo makes e append to buf, keeping buf's existing contents: callers
// that frame several records into one output buffer encode in place.
func (e *Encoder) ResetTo(buf []byte) { e.buf = buf }
