package config

// checkQuorumSASL is QuorumPeerConfig's check of the quorum.auth.* flags:
// requiring SASL needs it enabled, and a server that requires it of others
// must authenticate itself (or it could not join its own quorum).
func (p *parser) checkQuorumSASL() error {
	o := p.c.Other
	enabled, serverReq, learnerReq := o["quorum.auth.enableSasl"] == "true", o["quorum.auth.serverRequireSasl"] == "true", o["quorum.auth.learnerRequireSasl"] == "true"
	switch {
	case !enabled && serverReq:
		return p.errf(0, "quorum.auth.serverRequireSasl", "quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl")
	case !enabled && learnerReq:
		return p.errf(0, "quorum.auth.learnerRequireSasl", "quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl")
	case !learnerReq && serverReq:
		return p.errf(0, "quorum.auth.serverRequireSasl", "quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl")
	}
	return nil
}
