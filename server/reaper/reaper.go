package reaper

import (
	"fmt"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// Options are the container manager's settings.
type Options struct {
	// CheckInterval is how often candidates are listed; it must be > 0.
	CheckInterval time.Duration
	// MaxPerMinute bounds the deletions handed out per minute; it must
	// be > 0.
	MaxPerMinute int
	// MaxNeverUsed, when > 0, makes containers that never had a child
	// candidates once unmodified for that long.
	MaxNeverUsed time.Duration
}

// Tree is the committed tree the candidates come from (*tree.Tree).
type Tree interface {
	ExpiredContainersAndTTLsNeverUsed(nowMs int64, maxPerCall int, maxNeverUsedMs int64) []string
}

// Reaper paces the deletions. Create one with New; it is not safe for
// concurrent use.
type Reaper struct {
	opts    Options
	spacing time.Duration
	// nextCheck is when the candidates are listed next.
	nextCheck time.Time
	// queue is what the last check listed and has not handed out yet.
	queue []string
	// nextDelete is the earliest time of the next deletion; the check
	// after a list also waits for it, as upstream sleeps after the last.
	nextDelete time.Time
}

// Validate refuses options a reaper cannot run with. (Upstream fails to
// start its timer with a non-positive interval, and with maxPerMinute 0
// fails every check.)
func (o Options) Validate() error {
	if o.CheckInterval <= 0 {
		return fmt.Errorf("reaper: znode.container.checkIntervalMs must be positive, not %d", o.CheckInterval.Milliseconds())
	}
	if o.MaxPerMinute <= 0 {
		return fmt.Errorf("reaper: znode.container.maxPerMinute must be positive, not %d", o.MaxPerMinute)
	}
	return nil
}

// String is how the server logs the options, in upstream's words.
func (o Options) String() string {
	return fmt.Sprintf("checkIntervalMs=%d maxPerMinute=%d maxNeverUsedIntervalMs=%d",
		o.CheckInterval.Milliseconds(), o.MaxPerMinute, o.MaxNeverUsed.Milliseconds())
}

// New returns a reaper whose first check is one interval after now.
func New(opts Options, now time.Time) (*Reaper, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	// Upstream's whole milliseconds: 60000 / maxPerMinute.
	spacing := time.Duration(time.Minute.Milliseconds()/int64(opts.MaxPerMinute)) * time.Millisecond
	return &Reaper{opts: opts, spacing: spacing, nextCheck: now.Add(opts.CheckInterval), nextDelete: now}, nil
}

// Due returns the paths to delete now, listing candidates in t when a
// check is due, and moves the schedule on.
func (r *Reaper) Due(t Tree, now time.Time) []string {
	var out []string
	for {
		if len(r.queue) > 0 {
			if now.Before(r.nextDelete) {
				return out
			}
			out = append(out, r.queue[0])
			r.queue = r.queue[1:]
			r.nextDelete = now.Add(r.spacing)
			continue
		}
		if now.Before(r.nextCheck) || now.Before(r.nextDelete) {
			return out
		}
		r.nextCheck = r.nextCheck.Add(r.opts.CheckInterval)
		if r.nextCheck.Before(now) {
			r.nextCheck = now.Add(r.opts.CheckInterval)
		}
		r.queue = t.ExpiredContainersAndTTLsNeverUsed(now.UnixMilli(), 0, r.opts.MaxNeverUsed.Milliseconds())
		if len(r.queue) == 0 {
			return out
		}
	}
}

// Next is when Due has something to do next.
func (r *Reaper) Next() time.Time {
	if len(r.queue) > 0 || r.nextDelete.After(r.nextCheck) {
		return r.nextDelete
	}
	return r.nextCheck
}

// Request is the deleteContainer request the server makes itself for
// path: session 0, cxid 0 and FromServer, which the prep stage refuses
// from a client.
func Request(path string) *proto.Request {
	return &proto.Request{Op: proto.OpDeleteContainer, FromServer: true,
		Body: &proto.DeleteRequest{Path: path, Version: -1}}
}

// Run drives r until stop is closed: at each due time it calls del with
// each path to delete. now is the clock (time.Now in a server).
func Run(stop <-chan struct{}, r *Reaper, t Tree, now func() time.Time, del func(path string)) {
	timer := time.NewTimer(r.Next().Sub(now()))
	defer timer.Stop()
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		for _, p := range r.Due(t, now()) {
			del(p)
		}
		timer.Reset(r.Next().Sub(now()))
	}
}
