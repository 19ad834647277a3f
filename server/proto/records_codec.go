package proto

// Encode and Decode for every record in records.go, in upstream jute field
// order (zookeeper-jute/src/main/resources/zookeeper.jute). Decode methods
// leave errors in the Decoder; check d.Err() (or use Unmarshal).

// Minimum encoded sizes of vector elements, used to bound vector counts
// before allocating.
const (
	minIDSize         = 4 + 4 // two empty ustrings
	minACLSize        = 4 + minIDSize
	minTxnSize        = 4 + 4 // type + null buffer
	minClientInfoSize = 4 + 4 // two empty ustrings
)

// EncodeACLs writes a vector<ACL>; nil is written as -1 (null).
func EncodeACLs(e *Encoder, v []ACL) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for i := range v {
		v[i].Encode(e)
	}
}

// DecodeACLs reads a vector<ACL>; null reads as nil, an empty vector as a
// non-nil empty slice.
func DecodeACLs(d *Decoder) []ACL {
	n := d.VectorLen(minACLSize)
	if n < 0 || d.err != nil {
		return nil
	}
	out := make([]ACL, n)
	for i := range out {
		out[i].Decode(d)
	}
	if d.err != nil {
		return nil
	}
	return out
}

// EncodeIDs writes a vector<Id>; nil is written as -1 (null).
func EncodeIDs(e *Encoder, v []ID) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for i := range v {
		v[i].Encode(e)
	}
}

// DecodeIDs reads a vector<Id>; null reads as nil.
func DecodeIDs(d *Decoder) []ID {
	n := d.VectorLen(minIDSize)
	if n < 0 || d.err != nil {
		return nil
	}
	out := make([]ID, n)
	for i := range out {
		out[i].Decode(d)
	}
	if d.err != nil {
		return nil
	}
	return out
}

// EncodeTxns writes a vector<Txn>; nil is written as -1 (null).
func EncodeTxns(e *Encoder, v []Txn) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for i := range v {
		v[i].Encode(e)
	}
}

// DecodeTxns reads a vector<Txn>; null reads as nil.
func DecodeTxns(d *Decoder) []Txn {
	n := d.VectorLen(minTxnSize)
	if n < 0 || d.err != nil {
		return nil
	}
	out := make([]Txn, n)
	for i := range out {
		out[i].Decode(d)
	}
	if d.err != nil {
		return nil
	}
	return out
}

// EncodeClientInfos writes a vector<ClientInfo>; nil is written as -1 (null).
func EncodeClientInfos(e *Encoder, v []ClientInfo) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for i := range v {
		v[i].Encode(e)
	}
}

// DecodeClientInfos reads a vector<ClientInfo>; null reads as nil.
func DecodeClientInfos(d *Decoder) []ClientInfo {
	n := d.VectorLen(minClientInfoSize)
	if n < 0 || d.err != nil {
		return nil
	}
	out := make([]ClientInfo, n)
	for i := range out {
		out[i].Decode(d)
	}
	if d.err != nil {
		return nil
	}
	return out
}

// Encode implements Record.
func (r *ID) Encode(e *Encoder) {
	e.String(r.Scheme)
	e.String(r.ID)
}

// Decode implements Record.
func (r *ID) Decode(d *Decoder) {
	r.Scheme = d.String()
	r.ID = d.String()
}

// Encode implements Record.
func (r *ACL) Encode(e *Encoder) {
	e.Int(r.Perms)
	r.ID.Encode(e)
}

// Decode implements Record.
func (r *ACL) Decode(d *Decoder) {
	r.Perms = d.Int()
	r.ID.Decode(d)
}

// Encode implements Record.
func (r *Stat) Encode(e *Encoder) {
	e.Long(r.Czxid)
	e.Long(r.Mzxid)
	e.Long(r.Ctime)
	e.Long(r.Mtime)
	e.Int(r.Version)
	e.Int(r.Cversion)
	e.Int(r.Aversion)
	e.Long(r.EphemeralOwner)
	e.Int(r.DataLength)
	e.Int(r.NumChildren)
	e.Long(r.Pzxid)
}

// Decode implements Record.
func (r *Stat) Decode(d *Decoder) {
	r.Czxid = d.Long()
	r.Mzxid = d.Long()
	r.Ctime = d.Long()
	r.Mtime = d.Long()
	r.Version = d.Int()
	r.Cversion = d.Int()
	r.Aversion = d.Int()
	r.EphemeralOwner = d.Long()
	r.DataLength = d.Int()
	r.NumChildren = d.Int()
	r.Pzxid = d.Long()
}

// Encode implements Record.
func (r *StatPersisted) Encode(e *Encoder) {
	e.Long(r.Czxid)
	e.Long(r.Mzxid)
	e.Long(r.Ctime)
	e.Long(r.Mtime)
	e.Int(r.Version)
	e.Int(r.Cversion)
	e.Int(r.Aversion)
	e.Long(r.EphemeralOwner)
	e.Long(r.Pzxid)
}

// Decode implements Record.
func (r *StatPersisted) Decode(d *Decoder) {
	r.Czxid = d.Long()
	r.Mzxid = d.Long()
	r.Ctime = d.Long()
	r.Mtime = d.Long()
	r.Version = d.Int()
	r.Cversion = d.Int()
	r.Aversion = d.Int()
	r.EphemeralOwner = d.Long()
	r.Pzxid = d.Long()
}

// Encode implements Record.
func (r *ClientInfo) Encode(e *Encoder) {
	e.String(r.AuthScheme)
	e.String(r.User)
}

// Decode implements Record.
func (r *ClientInfo) Decode(d *Decoder) {
	r.AuthScheme = d.String()
	r.User = d.String()
}

// Encode implements Record. It always writes the trailing readOnly byte, as
// every client since 3.4 does; see ConnectRequest.Decode for the old form.
func (r *ConnectRequest) Encode(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Long(r.LastZxidSeen)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	e.Bool(r.ReadOnly)
}

// Decode implements Record. Clients from before ZooKeeper 3.4 — and
// go-zookeeper/zk to this day — end the request after Passwd, without the
// readOnly byte; Decode then leaves ReadOnly false. Use HasReadOnly (or
// DecodeConnectRequest) to learn which form the client sent: upstream
// (compat.ProtocolManager) answers such a client with a ConnectResponse that
// also omits readOnly, and so must we (see ConnectResponse.EncodeLegacy).
func (r *ConnectRequest) Decode(d *Decoder) {
	r.decodeBase(d)
	r.ReadOnly = false
	if d.err == nil && d.Remaining() > 0 {
		r.ReadOnly = d.Bool()
	}
}

func (r *ConnectRequest) decodeBase(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.LastZxidSeen = d.Long()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
}

// DecodeConnectRequest decodes the body of a connect packet (the frame
// without its length prefix; a connect request has no RequestHeader) and
// reports whether it carried the readOnly byte. Like upstream, it ignores
// bytes after the record.
func DecodeConnectRequest(body []byte) (req ConnectRequest, hasReadOnly bool, err error) {
	d := NewDecoder(body)
	req.decodeBase(d)
	if d.err == nil && d.Remaining() > 0 {
		req.ReadOnly = d.Bool()
		hasReadOnly = true
	}
	if d.err != nil {
		return ConnectRequest{}, false, d.err
	}
	return req, hasReadOnly, nil
}

// Encode implements Record, writing the readOnly byte.
func (r *ConnectResponse) Encode(e *Encoder) {
	r.EncodeLegacy(e)
	e.Bool(r.ReadOnly)
}

// EncodeLegacy writes the response without the trailing readOnly byte, the
// form upstream sends to a client whose ConnectRequest lacked readOnly.
func (r *ConnectResponse) EncodeLegacy(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
}

// Decode implements Record. A response without the readOnly byte (from a
// server older than 3.4, or one answering an old-form request) leaves
// ReadOnly false.
func (r *ConnectResponse) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	r.ReadOnly = false
	if d.err == nil && d.Remaining() > 0 {
		r.ReadOnly = d.Bool()
	}
}

// Encode implements Record.
func (r *SetWatches) Encode(e *Encoder) {
	e.Long(r.RelativeZxid)
	e.Strings(r.DataWatches)
	e.Strings(r.ExistWatches)
	e.Strings(r.ChildWatches)
}

// Decode implements Record.
func (r *SetWatches) Decode(d *Decoder) {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
}

// Encode implements Record.
func (r *SetWatches2) Encode(e *Encoder) {
	e.Long(r.RelativeZxid)
	e.Strings(r.DataWatches)
	e.Strings(r.ExistWatches)
	e.Strings(r.ChildWatches)
	e.Strings(r.PersistentWatches)
	e.Strings(r.PersistentRecursiveWatches)
}

// Decode implements Record.
func (r *SetWatches2) Decode(d *Decoder) {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
	r.PersistentWatches = d.Strings()
	r.PersistentRecursiveWatches = d.Strings()
}

// Encode implements Record.
func (r *RequestHeader) Encode(e *Encoder) {
	e.Int(r.Xid)
	e.Int(int32(r.Type))
}

// Decode implements Record.
func (r *RequestHeader) Decode(d *Decoder) {
	r.Xid = d.Int()
	r.Type = OpCode(d.Int())
}

// Encode implements Record.
func (r *MultiHeader) Encode(e *Encoder) {
	e.Int(int32(r.Type))
	e.Bool(r.Done)
	e.Int(int32(r.Err))
}

// Decode implements Record.
func (r *MultiHeader) Decode(d *Decoder) {
	r.Type = OpCode(d.Int())
	r.Done = d.Bool()
	r.Err = ErrCode(d.Int())
}

// Encode implements Record.
func (r *AuthPacket) Encode(e *Encoder) {
	e.Int(r.Type)
	e.String(r.Scheme)
	e.Buffer(r.Auth)
}

// Decode implements Record.
func (r *AuthPacket) Decode(d *Decoder) {
	r.Type = d.Int()
	r.Scheme = d.String()
	r.Auth = d.Buffer()
}

// Encode implements Record.
func (r *ReplyHeader) Encode(e *Encoder) {
	e.Int(r.Xid)
	e.Long(r.Zxid)
	e.Int(int32(r.Err))
}

// Decode implements Record.
func (r *ReplyHeader) Decode(d *Decoder) {
	r.Xid = d.Int()
	r.Zxid = d.Long()
	r.Err = ErrCode(d.Int())
}

// Encode implements Record.
func (r *GetDataRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Bool(r.Watch)
}

// Decode implements Record.
func (r *GetDataRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Watch = d.Bool()
}

// Encode implements Record.
func (r *SetDataRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	e.Int(r.Version)
}

// Decode implements Record.
func (r *SetDataRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.Version = d.Int()
}

// Encode implements Record.
func (r *ReconfigRequest) Encode(e *Encoder) {
	e.String(r.JoiningServers)
	e.String(r.LeavingServers)
	e.NullableString(r.NewMembers)
	e.Long(r.CurConfigID)
}

// Decode implements Record.
func (r *ReconfigRequest) Decode(d *Decoder) {
	r.JoiningServers = d.String()
	r.LeavingServers = d.String()
	r.NewMembers = d.NullableString()
	r.CurConfigID = d.Long()
}

// Encode implements Record.
func (r *SetDataResponse) Encode(e *Encoder) { r.Stat.Encode(e) }

// Decode implements Record.
func (r *SetDataResponse) Decode(d *Decoder) { r.Stat.Decode(d) }

// Encode implements Record.
func (r *GetSASLRequest) Encode(e *Encoder) { e.Buffer(r.Token) }

// Decode implements Record.
func (r *GetSASLRequest) Decode(d *Decoder) { r.Token = d.Buffer() }

// Encode implements Record.
func (r *SetSASLRequest) Encode(e *Encoder) { e.Buffer(r.Token) }

// Decode implements Record.
func (r *SetSASLRequest) Decode(d *Decoder) { r.Token = d.Buffer() }

// Encode implements Record.
func (r *SetSASLResponse) Encode(e *Encoder) { e.Buffer(r.Token) }

// Decode implements Record.
func (r *SetSASLResponse) Decode(d *Decoder) { r.Token = d.Buffer() }

// Encode implements Record.
func (r *CreateRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(int32(r.Flags))
}

// Decode implements Record.
func (r *CreateRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.Flags = CreateMode(d.Int())
}

// Encode implements Record.
func (r *CreateTTLRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(int32(r.Flags))
	e.Long(r.TTL)
}

// Decode implements Record.
func (r *CreateTTLRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.Flags = CreateMode(d.Int())
	r.TTL = d.Long()
}

// Encode implements Record.
func (r *DeleteRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(r.Version)
}

// Decode implements Record.
func (r *DeleteRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Version = d.Int()
}

// Encode implements Record.
func (r *GetChildrenRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Bool(r.Watch)
}

// Decode implements Record.
func (r *GetChildrenRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Watch = d.Bool()
}

// Encode implements Record.
func (r *GetAllChildrenNumberRequest) Encode(e *Encoder) { e.String(r.Path) }

// Decode implements Record.
func (r *GetAllChildrenNumberRequest) Decode(d *Decoder) { r.Path = d.String() }

// Encode implements Record.
func (r *GetChildren2Request) Encode(e *Encoder) {
	e.String(r.Path)
	e.Bool(r.Watch)
}

// Decode implements Record.
func (r *GetChildren2Request) Decode(d *Decoder) {
	r.Path = d.String()
	r.Watch = d.Bool()
}

// Encode implements Record.
func (r *CheckVersionRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(r.Version)
}

// Decode implements Record.
func (r *CheckVersionRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Version = d.Int()
}

// Encode implements Record.
func (r *SyncRequest) Encode(e *Encoder) { e.String(r.Path) }

// Decode implements Record.
func (r *SyncRequest) Decode(d *Decoder) { r.Path = d.String() }

// Encode implements Record.
func (r *SyncResponse) Encode(e *Encoder) { e.String(r.Path) }

// Decode implements Record.
func (r *SyncResponse) Decode(d *Decoder) { r.Path = d.String() }

// Encode implements Record.
func (r *GetACLRequest) Encode(e *Encoder) { e.String(r.Path) }

// Decode implements Record.
func (r *GetACLRequest) Decode(d *Decoder) { r.Path = d.String() }

// Encode implements Record.
func (r *SetACLRequest) Encode(e *Encoder) {
	e.String(r.Path)
	EncodeACLs(e, r.ACL)
	e.Int(r.Version)
}

// Decode implements Record.
func (r *SetACLRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.ACL = DecodeACLs(d)
	r.Version = d.Int()
}

// Encode implements Record.
func (r *SetACLResponse) Encode(e *Encoder) { r.Stat.Encode(e) }

// Decode implements Record.
func (r *SetACLResponse) Decode(d *Decoder) { r.Stat.Decode(d) }

// Encode implements Record.
func (r *AddWatchRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(int32(r.Mode))
}

// Decode implements Record.
func (r *AddWatchRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Mode = AddWatchMode(d.Int())
}

// Encode implements Record.
func (r *WatcherEvent) Encode(e *Encoder) {
	e.Int(int32(r.Type))
	e.Int(int32(r.State))
	e.String(r.Path)
}

// Decode implements Record.
func (r *WatcherEvent) Decode(d *Decoder) {
	r.Type = EventType(d.Int())
	r.State = KeeperState(d.Int())
	r.Path = d.String()
}

// Encode implements Record.
func (r *ErrorResponse) Encode(e *Encoder) { e.Int(int32(r.Err)) }

// Decode implements Record.
func (r *ErrorResponse) Decode(d *Decoder) { r.Err = ErrCode(d.Int()) }

// Encode implements Record.
func (r *CreateResponse) Encode(e *Encoder) { e.String(r.Path) }

// Decode implements Record.
func (r *CreateResponse) Decode(d *Decoder) { r.Path = d.String() }

// Encode implements Record.
func (r *Create2Response) Encode(e *Encoder) {
	e.String(r.Path)
	r.Stat.Encode(e)
}

// Decode implements Record.
func (r *Create2Response) Decode(d *Decoder) {
	r.Path = d.String()
	r.Stat.Decode(d)
}

// Encode implements Record.
func (r *ExistsRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Bool(r.Watch)
}

// Decode implements Record.
func (r *ExistsRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Watch = d.Bool()
}

// Encode implements Record.
func (r *ExistsResponse) Encode(e *Encoder) { r.Stat.Encode(e) }

// Decode implements Record.
func (r *ExistsResponse) Decode(d *Decoder) { r.Stat.Decode(d) }

// Encode implements Record.
func (r *GetDataResponse) Encode(e *Encoder) {
	e.Buffer(r.Data)
	r.Stat.Encode(e)
}

// Decode implements Record.
func (r *GetDataResponse) Decode(d *Decoder) {
	r.Data = d.Buffer()
	r.Stat.Decode(d)
}

// Encode implements Record.
func (r *GetChildrenResponse) Encode(e *Encoder) { e.Strings(r.Children) }

// Decode implements Record.
func (r *GetChildrenResponse) Decode(d *Decoder) { r.Children = d.Strings() }

// Encode implements Record.
func (r *GetAllChildrenNumberResponse) Encode(e *Encoder) { e.Int(r.TotalNumber) }

// Decode implements Record.
func (r *GetAllChildrenNumberResponse) Decode(d *Decoder) { r.TotalNumber = d.Int() }

// Encode implements Record.
func (r *GetChildren2Response) Encode(e *Encoder) {
	e.Strings(r.Children)
	r.Stat.Encode(e)
}

// Decode implements Record.
func (r *GetChildren2Response) Decode(d *Decoder) {
	r.Children = d.Strings()
	r.Stat.Decode(d)
}

// Encode implements Record.
func (r *GetACLResponse) Encode(e *Encoder) {
	EncodeACLs(e, r.ACL)
	r.Stat.Encode(e)
}

// Decode implements Record.
func (r *GetACLResponse) Decode(d *Decoder) {
	r.ACL = DecodeACLs(d)
	r.Stat.Decode(d)
}

// Encode implements Record.
func (r *CheckWatchesRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(int32(r.Type))
}

// Decode implements Record.
func (r *CheckWatchesRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Type = WatcherType(d.Int())
}

// Encode implements Record.
func (r *RemoveWatchesRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(int32(r.Type))
}

// Decode implements Record.
func (r *RemoveWatchesRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Type = WatcherType(d.Int())
}

// Encode implements Record.
func (r *GetEphemeralsRequest) Encode(e *Encoder) { e.String(r.PrefixPath) }

// Decode implements Record.
func (r *GetEphemeralsRequest) Decode(d *Decoder) { r.PrefixPath = d.String() }

// Encode implements Record.
func (r *GetEphemeralsResponse) Encode(e *Encoder) { e.Strings(r.Ephemerals) }

// Decode implements Record.
func (r *GetEphemeralsResponse) Decode(d *Decoder) { r.Ephemerals = d.Strings() }

// Encode implements Record.
func (r *WhoAmIResponse) Encode(e *Encoder) { EncodeClientInfos(e, r.ClientInfo) }

// Decode implements Record.
func (r *WhoAmIResponse) Decode(d *Decoder) { r.ClientInfo = DecodeClientInfos(d) }

// Encode implements Record.
func (r *LearnerInfo) Encode(e *Encoder) {
	e.Long(r.ServerID)
	e.Int(r.ProtocolVersion)
	e.Long(r.ConfigVersion)
}

// Decode implements Record.
func (r *LearnerInfo) Decode(d *Decoder) {
	r.ServerID = d.Long()
	r.ProtocolVersion = d.Int()
	r.ConfigVersion = d.Long()
}

// Encode implements Record.
func (r *QuorumPacket) Encode(e *Encoder) {
	e.Int(r.Type)
	e.Long(r.Zxid)
	e.Buffer(r.Data)
	EncodeIDs(e, r.AuthInfo)
}

// Decode implements Record.
func (r *QuorumPacket) Decode(d *Decoder) {
	r.Type = d.Int()
	r.Zxid = d.Long()
	r.Data = d.Buffer()
	r.AuthInfo = DecodeIDs(d)
}

// Encode implements Record.
func (r *QuorumAuthPacket) Encode(e *Encoder) {
	e.Long(r.Magic)
	e.Int(r.Status)
	e.Buffer(r.Token)
}

// Decode implements Record.
func (r *QuorumAuthPacket) Decode(d *Decoder) {
	r.Magic = d.Long()
	r.Status = d.Int()
	r.Token = d.Buffer()
}

// Encode implements Record.
func (r *FileHeader) Encode(e *Encoder) {
	e.Int(r.Magic)
	e.Int(r.Version)
	e.Long(r.DBID)
}

// Decode implements Record.
func (r *FileHeader) Decode(d *Decoder) {
	r.Magic = d.Int()
	r.Version = d.Int()
	r.DBID = d.Long()
}

// Encode implements Record.
func (r *TxnDigest) Encode(e *Encoder) {
	e.Int(r.Version)
	e.Long(r.TreeDigest)
}

// Decode implements Record.
func (r *TxnDigest) Decode(d *Decoder) {
	r.Version = d.Int()
	r.TreeDigest = d.Long()
}

// Encode implements Record.
func (r *TxnHeader) Encode(e *Encoder) {
	e.Long(r.ClientID)
	e.Int(r.Cxid)
	e.Long(r.Zxid)
	e.Long(r.Time)
	e.Int(int32(r.Type))
}

// Decode implements Record.
func (r *TxnHeader) Decode(d *Decoder) {
	r.ClientID = d.Long()
	r.Cxid = d.Int()
	r.Zxid = d.Long()
	r.Time = d.Long()
	r.Type = OpCode(d.Int())
}

// Encode implements Record.
func (r *CreateTxn) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Bool(r.Ephemeral)
	e.Int(r.ParentCVersion)
}

// Decode implements Record.
func (r *CreateTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.Ephemeral = d.Bool()
	r.ParentCVersion = d.Int()
}

// Encode implements Record.
func (r *CreateTTLTxn) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(r.ParentCVersion)
	e.Long(r.TTL)
}

// Decode implements Record.
func (r *CreateTTLTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.ParentCVersion = d.Int()
	r.TTL = d.Long()
}

// Encode implements Record.
func (r *CreateContainerTxn) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(r.ParentCVersion)
}

// Decode implements Record.
func (r *CreateContainerTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.ParentCVersion = d.Int()
}

// Encode implements Record.
func (r *DeleteTxn) Encode(e *Encoder) { e.String(r.Path) }

// Decode implements Record.
func (r *DeleteTxn) Decode(d *Decoder) { r.Path = d.String() }

// Encode implements Record.
func (r *SetDataTxn) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	e.Int(r.Version)
}

// Decode implements Record.
func (r *SetDataTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.Version = d.Int()
}

// Encode implements Record.
func (r *CheckVersionTxn) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(r.Version)
}

// Decode implements Record.
func (r *CheckVersionTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.Version = d.Int()
}

// Encode implements Record.
func (r *SetACLTxn) Encode(e *Encoder) {
	e.String(r.Path)
	EncodeACLs(e, r.ACL)
	e.Int(r.Version)
}

// Decode implements Record.
func (r *SetACLTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.ACL = DecodeACLs(d)
	r.Version = d.Int()
}

// Encode implements Record.
func (r *CreateSessionTxn) Encode(e *Encoder) { e.Int(r.TimeOut) }

// Decode implements Record.
func (r *CreateSessionTxn) Decode(d *Decoder) { r.TimeOut = d.Int() }

// Encode implements Record.
func (r *CloseSessionTxn) Encode(e *Encoder) { e.Strings(r.Paths2Delete) }

// Decode implements Record.
func (r *CloseSessionTxn) Decode(d *Decoder) { r.Paths2Delete = d.Strings() }

// Encode implements Record.
func (r *ErrorTxn) Encode(e *Encoder) { e.Int(int32(r.Err)) }

// Decode implements Record.
func (r *ErrorTxn) Decode(d *Decoder) { r.Err = ErrCode(d.Int()) }

// Encode implements Record.
func (r *Txn) Encode(e *Encoder) {
	e.Int(int32(r.Type))
	e.Buffer(r.Data)
}

// Decode implements Record.
func (r *Txn) Decode(d *Decoder) {
	r.Type = OpCode(d.Int())
	r.Data = d.Buffer()
}

// Encode implements Record.
func (r *MultiTxn) Encode(e *Encoder) { EncodeTxns(e, r.Txns) }

// Decode implements Record.
func (r *MultiTxn) Decode(d *Decoder) { r.Txns = DecodeTxns(d) }

// Encode implements Record; it writes nothing.
func (*Empty) Encode(*Encoder) {}

// Decode implements Record; it reads nothing.
func (*Empty) Decode(*Decoder) {}
