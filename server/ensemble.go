package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/datadir"
	"github.com/zkbench/zkbench/server/peer"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/zab"
)

// runEnsemble runs one member of an ensemble: recovery, the peer (election
// and Zab) and the client port, which refuses clients while the member is
// not serving.
func runEnsemble(ctx context.Context, cfg *config.Config, opts Options, log *slog.Logger) error {
	log = log.With("myid", cfg.MyID)
	sec, err := quorumSecure(cfg, log)
	if err != nil {
		return err
	}
	if sec, err = withQuorumAuth(cfg, sec); err != nil {
		return err
	}
	dd, err := datadir.Open(cfg, log)
	if err != nil {
		return err
	}
	if cfg.ReconfigEnabled && cfg.DynamicConfigFile == "" && cfg.Path != "" {
		if err := config.BackupStatic(cfg.Path); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	var srv *clientconn.Server
	m := newMetrics(cfg, func() [][2]string { return srv.Mntr() })
	dd.SetMetrics(m)
	var entries []zab.Entry
	start := time.Now()
	st, err := dd.RecoverKeeping(func(zxid int64, rec []byte) {
		entries = append(entries, zab.Entry{Zxid: zxid, Data: rec})
	})
	if err != nil {
		return err
	}
	m.Or().DBInitTime.Observe(time.Since(start))
	txnLog, err := dd.OpenLog()
	if err != nil {
		return err
	}
	var snaps *datadir.Snapshotter
	p, err := peer.New(peer.Options{
		Config: cfg, Logger: log, Metrics: m,
		Tree: st.Tree, Sessions: st.Sessions, SnapZxid: st.SnapZxid, Entries: entries,
		Log: txnLog, LogOptions: dd.LogOptions(),
		SnapshotDir: dd.SnapDir,
		Containers:  containerOptions(cfg),
		Providers:   authProviders(cfg),
		Secure:      sec,
		OnApplied:   func(zxid int64) { snaps.Applied(zxid) },
		Rebuild: func() (*tree.Tree, map[int64]int32, error) {
			st, err := dd.Recover()
			if err != nil {
				return nil, nil, err
			}
			return st.Tree, st.Sessions, nil
		},
	})
	if err != nil {
		txnLog.Close()
		return err
	}
	defer p.Close()
	snaps = dd.NewSnapshotter(p.RollLog, p.Tree, p.Sessions)

	so := serveOptions(cfg, p, log)
	so.Admit = p.Admit
	so.ConfigTail = func() string { return quorumConf(cfg, p) }
	so.Metrics = m
	srv = clientconn.New(so)
	p.SetCloser(srv)

	obs, err := observers(cfg, m, srv, p.Leader, log)
	if err != nil {
		return err
	}
	l, err := listenClients(cfg)
	if err != nil {
		return err
	}
	log.Info("client port bound; joining the ensemble", "addr", l.Addr().String(), "servers", len(cfg.Servers))
	if opts.Ready != nil {
		opts.Ready(l.Addr().String())
	}
	go dd.Autopurge(ctx)

	return runUntilOneStops(ctx, append(obs, p.Run, func(ctx context.Context) error { return srv.Serve(ctx, l) })...)
}

// quorumConf is the part of conf upstream's QuorumZooKeeperServer adds:
// the quorum settings, then "membership: " and the configuration in force.
func quorumConf(cfg *config.Config, p *peer.Peer) string {
	text, observer := p.Membership()
	me := cfg.Servers[cfg.MyID]
	peerType := 0 // upstream's LearnerType ordinal: PARTICIPANT
	if observer {
		peerType = 1
	}
	return fmt.Sprintf("initLimit=%d\nsyncLimit=%d\nelectionAlg=%d\nelectionPort=%d\nquorumPort=%d\npeerType=%d\nmembership: \n%s",
		cfg.InitLimit, cfg.SyncLimit, cfg.ElectionAlg, me.ElectionPort, me.QuorumPort, peerType, text)
}

// clientAddress is where this member serves clients: its server line's
// client address if it has one, else clientPortAddress:clientPort.
func clientAddress(cfg *config.Config) (string, int) {
	host, port := cfg.ClientPortAddress, cfg.ClientPort
	if s, ok := cfg.Servers[cfg.MyID]; ok && s.ClientPort != 0 {
		host, port = s.ClientHost, s.ClientPort
	}
	return host, port
}
