// Package txnprep turns client write requests into transactions: the prep stage
// of the write path, upstream's PrepRequestProcessor.
//
// A Preparer sees the committed tree through a Store and keeps an overlay of
// the changes it has prepared but that are not yet applied ("outstanding
// changes"), so that a burst of pipelined writes is validated as if each
// earlier one had already happened: a create followed by a setData of the
// same node succeeds even though neither has reached the tree. Apply stages
// call Applied(zxid) after applying, which drops overlay entries the tree now
// reflects.
//
// Validation follows upstream exactly, in upstream's order, because the first
// failing check decides the error code a client sees: for create, the create
// mode and TTL, the path shape, the ACL list, the parent's existence and its
// CREATE permission, the sequential suffix, the node's absence, and the
// parent's not being ephemeral. A request that fails validation still
// consumes a zxid and becomes an ErrorTxn, as upstream logs failed writes.
//
// The opcode, not the create flags, picks a create's txn, as upstream: a
// create with container flags is a plain CreateTxn (a persistent node) and
// only createContainer makes a container. deleteContainer is the container
// reaper's alone (Request.FromServer); from a client it fails with
// BADARGUMENTS, which is what upstream answers.
//
// The package is pure: no I/O, no clock (times are passed in), no goroutines.
// One goroutine calls Prepare; Applied may be called from another.
package txnprep
