// Package quorum is an ensemble's membership: its servers (the server.N
// lines of zoo.cfg, upstream's QuorumServer) and one configuration of them
// with its version (Members, upstream's QuorumVerifier), in the text forms
// upstream uses for the /zookeeper/config znode, the dynamic configuration
// file and a reconfig request's server lists.
//
// It is the vocabulary shared by the zoo.cfg parser (package config), the
// prep stage's reconfig (package txnprep) and the ensemble driver (package
// peer), so that none of them has to import another for it. The package is
// pure: it parses and renders text.
package quorum
