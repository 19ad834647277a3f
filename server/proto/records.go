package proto

// This file declares one Go struct per jute record. Field order is wire order.
// The Encode/Decode methods live in records_codec.go.

// ID is an authentication identity: a scheme ("world", "digest", "ip",
// "auth", "super") and an id within it.
type ID struct {
	Scheme string
	ID     string
}

// ACL grants Perms (a PermRead|PermWrite|... mask) to ID.
type ACL struct {
	Perms int32
	ID    ID
}

// Stat is the metadata of a znode as clients see it.
type Stat struct {
	Czxid          int64 // zxid of the txn that created the node
	Mzxid          int64 // zxid of the txn that last set its data
	Ctime          int64 // creation time, ms since the epoch
	Mtime          int64 // last data change, ms since the epoch
	Version        int32 // number of data changes
	Cversion       int32 // number of child changes
	Aversion       int32 // number of ACL changes
	EphemeralOwner int64 // owning session id if ephemeral, else 0
	DataLength     int32 // length of the data
	NumChildren    int32 // number of children
	Pzxid          int64 // zxid of the last child change
}

// StatPersisted is the part of Stat a server stores (snapshots); DataLength
// and NumChildren are derived.
type StatPersisted struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	Pzxid          int64
}

// ClientInfo is one identity reported by whoAmI.
type ClientInfo struct {
	AuthScheme string
	User       string
}

// ConnectRequest opens or re-attaches a session. ReadOnly is absent on the
// wire from very old clients; Decode tolerates its absence.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32 // requested session timeout, ms
	SessionID       int64 // 0 for a new session
	Passwd          []byte
	ReadOnly        bool
}

// ConnectResponse answers a ConnectRequest. TimeOut <= 0 tells the client its
// session is expired.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
}

// SetWatches re-registers a reconnecting client's watches.
type SetWatches struct {
	RelativeZxid int64
	DataWatches  []string
	ExistWatches []string
	ChildWatches []string
}

// SetWatches2 is SetWatches plus persistent watches (3.6+).
type SetWatches2 struct {
	RelativeZxid               int64
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string
	PersistentRecursiveWatches []string
}

// RequestHeader precedes every client request.
type RequestHeader struct {
	Xid  int32
	Type OpCode
}

// MultiHeader precedes each op of a multi request and each result of a multi
// response; Done marks the end (with Type -1 and Err -1).
type MultiHeader struct {
	Type OpCode
	Done bool
	Err  ErrCode
}

// AuthPacket is an addAuth request.
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

// ReplyHeader precedes every server reply.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  ErrCode
}

// GetDataRequest reads a node's data, optionally leaving a data watch.
type GetDataRequest struct {
	Path  string
	Watch bool
}

// SetDataRequest replaces a node's data if Version matches (-1: any).
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

// ReconfigRequest changes the ensemble's membership.
type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	// NewMembers is nil (a null ustring) for an incremental reconfig; an
	// empty, non-null list is a (bad) non-incremental one, as upstream.
	NewMembers  *string
	CurConfigID int64
}

// SetDataResponse carries the node's new stat.
type SetDataResponse struct{ Stat Stat }

// CreateRequest creates a node; Flags is a CreateMode.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags CreateMode
}

// CreateTTLRequest creates a TTL node.
type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags CreateMode
	TTL   int64
}

// DeleteRequest deletes a node if Version matches (-1: any).
type DeleteRequest struct {
	Path    string
	Version int32
}

// GetChildrenRequest lists children, optionally leaving a child watch.
type GetChildrenRequest struct {
	Path  string
	Watch bool
}

// GetAllChildrenNumberRequest counts all descendants of Path.
type GetAllChildrenNumberRequest struct{ Path string }

// GetChildren2Request is GetChildrenRequest whose reply also has a Stat.
type GetChildren2Request struct {
	Path  string
	Watch bool
}

// CheckVersionRequest asserts a node's version (used inside multi).
type CheckVersionRequest struct {
	Path    string
	Version int32
}

// SyncRequest asks the server to catch up with the leader before later reads.
type SyncRequest struct{ Path string }

// SyncResponse answers SyncRequest.
type SyncResponse struct{ Path string }

// GetACLRequest reads a node's ACL.
type GetACLRequest struct{ Path string }

// SetACLRequest replaces a node's ACL if Version matches its aversion.
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

// SetACLResponse carries the node's new stat.
type SetACLResponse struct{ Stat Stat }

// AddWatchRequest adds a persistent (or persistent recursive) watch.
type AddWatchRequest struct {
	Path string
	Mode AddWatchMode
}

// WatcherEvent is a notification sent with xid -1.
type WatcherEvent struct {
	Type  EventType
	State KeeperState
	Path  string
}

// ErrorResponse is the per-op result of a failed op inside a multi.
type ErrorResponse struct{ Err ErrCode }

// CreateResponse carries the created path (with any sequence suffix).
type CreateResponse struct{ Path string }

// Create2Response is CreateResponse with the new node's stat.
type Create2Response struct {
	Path string
	Stat Stat
}

// ExistsRequest stats a node, optionally leaving an exists/data watch.
type ExistsRequest struct {
	Path  string
	Watch bool
}

// ExistsResponse carries the stat of an existing node.
type ExistsResponse struct{ Stat Stat }

// GetDataResponse carries data and stat.
type GetDataResponse struct {
	Data []byte
	Stat Stat
}

// GetChildrenResponse lists child names.
type GetChildrenResponse struct{ Children []string }

// GetAllChildrenNumberResponse counts descendants.
type GetAllChildrenNumberResponse struct{ TotalNumber int32 }

// GetChildren2Response lists child names and the parent's stat.
type GetChildren2Response struct {
	Children []string
	Stat     Stat
}

// GetACLResponse carries a node's ACL and stat.
type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

// CheckWatchesRequest asks whether a watch of Type exists on Path.
type CheckWatchesRequest struct {
	Path string
	Type WatcherType
}

// RemoveWatchesRequest removes watches of Type on Path.
type RemoveWatchesRequest struct {
	Path string
	Type WatcherType
}

// GetEphemeralsRequest lists the session's ephemerals under PrefixPath.
type GetEphemeralsRequest struct{ PrefixPath string }

// GetEphemeralsResponse lists ephemeral paths.
type GetEphemeralsResponse struct{ Ephemerals []string }

// WhoAmIResponse lists the identities of the session.
type WhoAmIResponse struct{ ClientInfo []ClientInfo }

// LearnerInfo is sent by a follower or observer when it connects to a leader.
type LearnerInfo struct {
	ServerID        int64
	ProtocolVersion int32
	ConfigVersion   int64
}

// QuorumPacket is the unit of the leader/learner protocol.
type QuorumPacket struct {
	Type     int32
	Zxid     int64
	Data     []byte
	AuthInfo []ID
}

// FileHeader starts every transaction log and snapshot file.
type FileHeader struct {
	Magic   int32
	Version int32
	DBID    int64
}

// TxnDigest is the optional tree digest that follows a txn in the log.
type TxnDigest struct {
	Version    int32
	TreeDigest int64
}

// TxnHeader precedes every transaction in the log and in proposals. Type is
// the opcode of the txn (OpCreate, OpError, OpCreateSession, ...).
type TxnHeader struct {
	ClientID int64 // session id
	Cxid     int32 // the client's xid
	Zxid     int64
	Time     int64 // ms since the epoch, set by the leader
	Type     OpCode
}

// CreateTxn creates a node (persistent, ephemeral, sequential).
type CreateTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	Ephemeral      bool
	ParentCVersion int32
}

// CreateTTLTxn creates a TTL node.
type CreateTTLTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	ParentCVersion int32
	TTL            int64
}

// CreateContainerTxn creates a container node.
type CreateContainerTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	ParentCVersion int32
}

// DeleteTxn deletes a node.
type DeleteTxn struct{ Path string }

// SetDataTxn sets a node's data; Version is the new version.
type SetDataTxn struct {
	Path    string
	Data    []byte
	Version int32
}

// CheckVersionTxn records a successful version check inside a multi.
type CheckVersionTxn struct {
	Path    string
	Version int32
}

// SetACLTxn sets a node's ACL; Version is the new aversion.
type SetACLTxn struct {
	Path    string
	ACL     []ACL
	Version int32
}

// CreateSessionTxn creates a session with the negotiated timeout.
type CreateSessionTxn struct{ TimeOut int32 }

// CloseSessionTxn closes a session; Paths2Delete lists its ephemerals.
type CloseSessionTxn struct{ Paths2Delete []string }

// ErrorTxn records a failed request (and failed ops inside a multi).
type ErrorTxn struct{ Err ErrCode }

// Txn is one serialized sub-transaction of a MultiTxn.
type Txn struct {
	Type OpCode
	Data []byte
}

// MultiTxn is the transaction of a multi request.
type MultiTxn struct{ Txns []Txn }

// GetSASLRequest carries a SASL token from client to server (opcode sasl).
type GetSASLRequest struct{ Token []byte }

// SetSASLRequest carries a SASL token (unused by current clients; kept for
// completeness with zookeeper.jute).
type SetSASLRequest struct{ Token []byte }

// SetSASLResponse carries the server's SASL challenge.
type SetSASLResponse struct{ Token []byte }

// QuorumAuthPacket is exchanged during quorum SASL authentication.
type QuorumAuthPacket struct {
	Magic  int64
	Status int32
	Token  []byte
}

// Empty is the record of a request or reply whose body is empty: the
// requests ping, closeSession and whoAmI, and the replies to delete, ping,
// closeSession, setWatches, checkWatches, removeWatches, and to any request
// that failed (upstream sends an error reply with no body, multi aside).
type Empty struct{}
