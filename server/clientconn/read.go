package clientconn

import (
	"errors"
	"strings"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// read answers a request that does not change the tree, from the local
// tree (upstream FinalRequestProcessor's read cases).
func (c *conn) read(o *op) (proto.Record, proto.ErrCode) {
	t := c.srv.opts.Backend.Tree()
	switch r := o.body.(type) {
	case *proto.ExistsRequest:
		stat, err := c.exists(t, r.Path, r.Watch)
		if err != proto.ErrOK {
			return nil, err
		}
		return &proto.ExistsResponse{Stat: stat}, proto.ErrOK
	case *proto.GetDataRequest:
		return c.getData(t, r)
	case *proto.GetChildrenRequest:
		return c.getChildren(t, r)
	case *proto.GetChildren2Request:
		if err := c.checkRead(t, r.Path, proto.PermRead); err != proto.ErrOK {
			return nil, err
		}
		children, stat, err := t.GetChildren(r.Path, c.watcher(r.Watch))
		if err != nil {
			return nil, code(err)
		}
		return &proto.GetChildren2Response{Children: children, Stat: stat}, proto.ErrOK
	case *proto.GetAllChildrenNumberRequest:
		if err := c.checkRead(t, r.Path, proto.PermRead); err != proto.ErrOK {
			return nil, err
		}
		n, err := t.AllChildrenNumber(r.Path)
		if err != nil {
			return nil, code(err)
		}
		return &proto.GetAllChildrenNumberResponse{TotalNumber: n}, proto.ErrOK
	case *proto.GetACLRequest:
		info, ok := t.Lookup(r.Path)
		if !ok {
			return nil, proto.ErrNoNode
		}
		if !c.permitted(info.ACL, proto.PermRead|proto.PermAdmin) {
			return nil, proto.ErrNoAuth
		}
		acl, stat, err := t.GetACL(r.Path)
		if err != nil {
			return nil, code(err)
		}
		if !c.permitted(info.ACL, proto.PermAdmin) {
			acl = maskDigests(acl)
		}
		return &proto.GetACLResponse{ACL: acl, Stat: stat}, proto.ErrOK
	case *proto.GetEphemeralsRequest:
		prefix := strings.TrimSpace(r.PrefixPath)
		if prefix == "/" {
			prefix = ""
		}
		eph := t.Ephemerals(c.session.Load(), prefix)
		if eph == nil {
			eph = []string{}
		}
		return &proto.GetEphemeralsResponse{Ephemerals: eph}, proto.ErrOK
	case *proto.SetWatches:
		t.SetWatches(r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches, nil, nil, c)
		return nil, proto.ErrOK
	case *proto.SetWatches2:
		t.SetWatches(r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches,
			r.PersistentWatches, r.PersistentRecursiveWatches, c)
		return nil, proto.ErrOK
	case *proto.AddWatchRequest:
		t.AddWatch(r.Path, r.Mode, c)
		return &proto.ErrorResponse{Err: proto.ErrOK}, proto.ErrOK
	case *proto.CheckWatchesRequest:
		if err := t.CheckWatches(r.Path, r.Type, c); err != nil {
			return nil, code(err)
		}
		return nil, proto.ErrOK
	case *proto.RemoveWatchesRequest:
		if err := t.RemoveWatches(r.Path, r.Type, c); err != nil {
			return nil, code(err)
		}
		return nil, proto.ErrOK
	case *proto.MultiRequest:
		if o.code != proto.OpMultiRead {
			return nil, proto.ErrMarshallingError
		}
		return c.multiRead(t, r), proto.ErrOK
	}
	if o.code == proto.OpWhoAmI {
		ids := c.authIDs()
		infos := make([]proto.ClientInfo, 0, len(ids))
		for _, id := range ids {
			infos = append(infos, proto.ClientInfo{AuthScheme: id.Scheme, User: userName(id)})
		}
		return &proto.WhoAmIResponse{ClientInfo: infos}, proto.ErrOK
	}
	return nil, proto.ErrUnimplemented
}

func (c *conn) getData(t *tree.Tree, r *proto.GetDataRequest) (proto.Record, proto.ErrCode) {
	data, stat, err := c.data(t, r.Path, r.Watch)
	if err != proto.ErrOK {
		return nil, err
	}
	return &proto.GetDataResponse{Data: data, Stat: stat}, proto.ErrOK
}

// data reads a node's data and stat for getData, checking permission
// first and setting a watch if asked.
func (c *conn) data(t *tree.Tree, path string, watch bool) ([]byte, proto.Stat, proto.ErrCode) {
	data, stat, err := t.GetDataIf(path, c.watcher(watch), c.mayRead)
	if err != nil {
		return nil, proto.Stat{}, code(err)
	}
	return data, stat, proto.ErrOK
}

// exists reads a node's stat for exists, setting a watch if asked (also
// on a missing node). Like upstream (FinalRequestProcessor's statNode),
// it checks no ACL: a Stat is answered whoever asks.
func (c *conn) exists(t *tree.Tree, path string, watch bool) (proto.Stat, proto.ErrCode) {
	if strings.IndexByte(path, 0) >= 0 {
		return proto.Stat{}, proto.ErrBadArguments
	}
	stat, err := t.Exists(path, c.watcher(watch))
	if err != nil {
		return proto.Stat{}, code(err)
	}
	return stat, proto.ErrOK
}

// quickRead answers a getData or exists that has no write of its session
// ahead of it straight from the frame, the commonest requests of a read
// load, without allocating an op, a request or a response. start is when
// its batch was read. It reports handled false, having consumed nothing,
// when requests are queued (the general path queues the read behind
// them), and keep false when the connection must close (a malformed
// request).
func (c *conn) quickRead(hdr proto.RequestHeader, d *proto.Decoder, start time.Time) (handled, keep bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		return false, true
	}
	var req proto.GetDataRequest // an ExistsRequest has the same fields
	req.Decode(d)
	if d.Err() != nil {
		c.log.Warn("closing connection: malformed request", "op", hdr.Type, "session", hex(c.session.Load()), "err", d.Err())
		return true, false
	}
	return true, c.answerDataRead(hdr.Xid, hdr.Type, req.Path, req.Watch, start)
}

// answerDataRead appends the reply of a getData (or, for OpExists, an
// exists) of path read at start, encoding it straight from the tree's
// data without building a response record; called with c.mu held, in
// session order. As in answer, a watch-setting read is redone if events
// were queued while it ran, so its reply never precedes an event of its
// watch. It reports false when the connection is closing instead (a
// reply too large to send).
func (c *conn) answerDataRead(xid int32, typ proto.OpCode, path string, watch bool, start time.Time) bool {
	b := c.srv.opts.Backend
	t := b.Tree()
	for try := 0; ; try++ {
		ev := c.events.Load()
		check := watch && try < maxReadRetries
		h := proto.ReplyHeader{Xid: xid, Zxid: b.LastZxid()}
		var ok bool
		if typ == proto.OpExists {
			var resp proto.ExistsResponse
			resp.Stat, h.Err = c.exists(t, path, watch)
			ok = c.appendReplyIf(check, ev, start, false, func(dst []byte) []byte {
				if h.Err != proto.ErrOK {
					return proto.AppendExistsReply(dst, h, nil)
				}
				return proto.AppendExistsReply(dst, h, &resp)
			})
		} else {
			var resp proto.GetDataResponse
			resp.Data, resp.Stat, h.Err = c.data(t, path, watch)
			if n := replyHeaderLen + bufferLen(resp.Data) + statLen; n > c.srv.opts.MaxBuffer {
				c.refuseOversized(xid, typ, n)
				return false
			}
			ok = c.appendReplyIf(check, ev, start, false, func(dst []byte) []byte {
				if h.Err != proto.ErrOK {
					return proto.AppendGetDataReply(dst, h, nil)
				}
				return proto.AppendGetDataReply(dst, h, &resp)
			})
		}
		if ok {
			c.lastZxid.Store(h.Zxid)
			return true
		}
	}
}

func (c *conn) getChildren(t *tree.Tree, r *proto.GetChildrenRequest) (proto.Record, proto.ErrCode) {
	if err := c.checkRead(t, r.Path, proto.PermRead); err != proto.ErrOK {
		return nil, err
	}
	children, _, err := t.GetChildren(r.Path, c.watcher(r.Watch))
	if err != nil {
		return nil, code(err)
	}
	return &proto.GetChildrenResponse{Children: children}, proto.ErrOK
}

// multiRead answers the reads of mr in order. It stops once the reply
// would be longer than jute.maxbuffer: the caller then refuses it, so a
// response of many large reads is never even assembled.
func (c *conn) multiRead(t *tree.Tree, mr *proto.MultiRequest) *proto.MultiResponse {
	out := &proto.MultiResponse{Results: make([]proto.MultiResult, 0, len(mr.Ops))}
	size := replyHeaderLen + multiHeaderLen
	for _, o := range mr.Ops {
		if size > c.srv.opts.MaxBuffer {
			break
		}
		var (
			rec proto.Record
			err proto.ErrCode
		)
		switch r := o.Op.(type) {
		case *proto.GetDataRequest:
			rec, err = c.getData(t, r)
		case *proto.GetChildrenRequest:
			rec, err = c.getChildren(t, r)
		default:
			err = proto.ErrUnimplemented
		}
		switch {
		case err != proto.ErrOK:
			out.Results = append(out.Results, proto.MultiResult{Type: proto.OpError, Err: err})
		case o.Header.Type == proto.OpGetData:
			gd := rec.(*proto.GetDataResponse)
			out.Results = append(out.Results, proto.MultiResult{Type: proto.OpGetData, Data: gd.Data, Stat: gd.Stat})
		default:
			gc := rec.(*proto.GetChildrenResponse)
			out.Results = append(out.Results, proto.MultiResult{Type: proto.OpGetChildren, Children: gc.Children})
		}
		size += multiResultLen(&out.Results[len(out.Results)-1])
	}
	return out
}

// checkRead finds path and checks perm against its ACL.
func (c *conn) checkRead(t *tree.Tree, path string, perm int32) proto.ErrCode {
	acl, ok := t.ACL(path)
	if !ok {
		return proto.ErrNoNode
	}
	if !c.permitted(acl, perm) {
		return proto.ErrNoAuth
	}
	return proto.ErrOK
}

// mayRead reports whether the session may read a node with acl.
func (c *conn) mayRead(acl []proto.ACL) bool { return c.permitted(acl, proto.PermRead) }

func (c *conn) permitted(acl []proto.ACL, perm int32) bool {
	return c.srv.opts.SkipACL || tree.CheckACL(acl, perm, c.authIDs(), c.srv.opts.Providers)
}

// watcher returns c as a tree.Watcher when the request asked for a watch.
func (c *conn) watcher(watch bool) tree.Watcher {
	if watch {
		return c
	}
	return nil
}

// maskDigests hides digest hashes from clients without ADMIN, as upstream.
func maskDigests(acl []proto.ACL) []proto.ACL {
	out := make([]proto.ACL, len(acl))
	for i, a := range acl {
		if a.ID.Scheme == "digest" {
			if user, _, ok := strings.Cut(a.ID.ID, ":"); ok {
				a.ID.ID = user + ":x"
			}
		}
		out[i] = a
	}
	return out
}

// userName is what whoAmI reports for an id (upstream
// AuthenticationProvider.getUserName): the user part of a digest id.
func userName(id proto.ID) string {
	if id.Scheme == "digest" {
		user, _, _ := strings.Cut(id.ID, ":")
		return user
	}
	return id.ID
}

// code turns an error from the tree into the ZooKeeper error code.
func code(err error) proto.ErrCode {
	var c proto.ErrCode
	if errors.As(err, &c) {
		return c
	}
	return proto.ErrSystemError
}
