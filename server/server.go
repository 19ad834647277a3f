package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/datadir"
	"github.com/zkbench/zkbench/server/reaper"
	"github.com/zkbench/zkbench/server/standalone"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/wal"
)

// Options configure Run beyond what zoo.cfg says.
type Options struct {
	Logger *slog.Logger
	// Ready, if set, is called with the client address once the server
	// accepts connections.
	Ready func(clientAddr string)
}

// Run runs the server cfg describes until ctx is done.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	for _, w := range cfg.Warnings {
		log.Warn("config: " + w)
	}
	if _, port := clientAddress(cfg); (port <= 0 || port > 65535) && cfg.SecureClientPort == 0 {
		return fmt.Errorf("server: no client port is configured (client port %d): refusing to bind one nobody asked for", port)
	}
	if _, err := clientTLS(cfg, log); err != nil {
		return err
	}
	if _, err := clientSASL(cfg); err != nil {
		return err
	}
	if !cfg.Standalone() {
		return runEnsemble(ctx, cfg, opts, log)
	}
	return runStandalone(ctx, cfg, opts, log)
}

func runStandalone(ctx context.Context, cfg *config.Config, opts Options, log *slog.Logger) error {
	dd, err := datadir.Open(cfg, log)
	if err != nil {
		return err
	}
	var srv *clientconn.Server
	m := newMetrics(cfg, func() [][2]string { return srv.Mntr() })
	dd.SetMetrics(m)
	start := time.Now()
	st, err := dd.Recover()
	if err != nil {
		return err
	}
	m.Or().DBInitTime.Observe(time.Since(start))
	txnLog, err := dd.OpenLog()
	if err != nil {
		return err
	}
	committer := committerStats{wal.NewCommitter(txnLog, wal.WithFlushDelay(cfg.FlushDelay),
		wal.WithLinger(wal.LingerUpTo(cfg.GroupCommitLinger)), wal.WithMaxBatch(cfg.MaxBatchSize))}
	defer txnLog.Close()
	var snaps *datadir.Snapshotter
	containers := containerOptions(cfg)
	n := standalone.New(standalone.Options{
		// Upstream's standalone server creates session ids as server 1.
		ServerID:        1,
		Log:             committer,
		OnApplied:       func(zxid, _ int64) { snaps.Applied(zxid) },
		Tree:            st.Tree,
		Sessions:        st.Sessions,
		TickMs:          cfg.TickTime,
		Logger:          log,
		SkipACL:         propertyTrue(cfg, "zookeeper.skipACL"),
		ExtendedTypes:   cfg.ExtendedTypesEnabled(),
		ReconfigEnabled: cfg.ReconfigEnabled,
		EnforceQuota:    cfg.EnforceQuota(),
		Providers:       authProviders(cfg),
		Containers:      &containers,
	})
	so := serveOptions(cfg, n, log)
	so.Metrics = m
	srv = clientconn.New(so)
	n.SetSessionCloser(srv)
	snaps = dd.NewSnapshotter(txnLog.Roll, n.Tree, n.Sessions)
	go dd.Autopurge(ctx)

	obs, err := observers(cfg, m, srv, nil, log)
	if err != nil {
		return err
	}
	l, err := listenClients(cfg)
	if err != nil {
		return err
	}
	log.Info("serving clients", "addr", l.Addr().String(), "mode", "standalone")
	if opts.Ready != nil {
		opts.Ready(l.Addr().String())
	}

	return runUntilOneStops(ctx, append(obs, n.Run, func(ctx context.Context) error { return srv.Serve(ctx, l) })...)
}

// listenClients binds the client addresses the configuration gives this
// server, the plain one (taking TLS too with client.portUnification), the
// secure one (TLS) or both as one listener (Run has checked that it gives
// one: a port is never picked here).
func listenClients(cfg *config.Config) (net.Listener, error) {
	tc, err := clientTLS(cfg, nil)
	if err != nil {
		return nil, err
	}
	var ls []net.Listener
	if host, port := clientAddress(cfg); port > 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("server: bind client port: %w", err)
		}
		ls = append(ls, unifyClientPort(cfg, l, tc))
	}
	if cfg.SecureClientPort != 0 {
		l, err := listenSecure(cfg, tc)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, err
		}
		ls = append(ls, l)
	}
	return mergeListeners(ls...), nil
}

// serveOptions configures the client side from zoo.cfg.
func serveOptions(cfg *config.Config, b clientconn.Backend, log *slog.Logger) clientconn.Options {
	sasl, _ := clientSASL(cfg) // Run has checked it
	return clientconn.Options{
		Backend:           b,
		Logger:            log,
		MaxBuffer:         cfg.MaxBuffer(),
		MinSessionTimeout: int32(cfg.MinSessionTimeout),
		MaxSessionTimeout: int32(cfg.MaxSessionTimeout),
		MaxClientCnxns:    cfg.MaxClientCnxns,
		FourLetterWords:   cfg.FourLetterWords,
		SuperDigest:       cfg.SuperDigest(),
		SkipACL:           propertyTrue(cfg, "zookeeper.skipACL"),
		Providers:         authProviders(cfg),
		X509SuperUser:     x509SuperUser(cfg),
		SASL:              sasl,
		Config:            confLines(cfg),
	}
}

// authProviders are the optional authentication providers the
// configuration registers (ip and digest always are).
func authProviders(cfg *config.Config) tree.Providers {
	return tree.Providers{SASL: cfg.ProviderRegistered("sasl"), X509: cfg.ProviderRegistered("x509")}
}

// runUntilOneStops runs the parts of a server until ctx ends or one of them
// stops, then stops the others and returns the first error.
func runUntilOneStops(ctx context.Context, parts ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for _, run := range parts {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- run(ctx); cancel() }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// committerStats is the group-commit log with its figures in mntr.
type committerStats struct{ *wal.Committer }

// MntrStats implements standalone.StatsReporter: upstream has no such lines;
// they say how well group commit batches (mean txns per fsync).
func (c committerStats) MntrStats() [][2]string {
	s := c.Stats()
	return [][2]string{
		{"zk_fsync_count", strconv.FormatUint(s.Syncs, 10)},
		{"zk_fsync_txns", strconv.FormatUint(s.Txns, 10)},
		{"zk_fsync_mean_batch", strconv.FormatFloat(s.MeanBatch, 'f', 2, 64)},
		{"zk_fsync_max_batch", strconv.Itoa(s.MaxBatch)},
		{"zk_fsync_p50_us", strconv.FormatInt(s.SyncP50.Microseconds(), 10)},
		{"zk_fsync_p99_us", strconv.FormatInt(s.SyncP99.Microseconds(), 10)},
		{"zk_commit_p99_us", strconv.FormatInt(s.CommitP99.Microseconds(), 10)},
	}
}

func propertyTrue(cfg *config.Config, key string) bool {
	v, ok := cfg.Property(key)
	return ok && (v == "yes" || v == "true")
}

// confLines is what the conf four-letter word prints.
func confLines(cfg *config.Config) [][2]string {
	lines := [][2]string{
		{"clientPort", strconv.Itoa(cfg.ClientPort)},
		{"dataDir", filepath.Join(cfg.DataDir, "version-2")},
		{"dataDirSize", "0"},
		{"dataLogDir", filepath.Join(cfg.DataLogDir, "version-2")},
		{"dataLogSize", "0"},
		{"tickTime", strconv.Itoa(cfg.TickTime)},
		{"maxClientCnxns", strconv.Itoa(cfg.MaxClientCnxns)},
		{"minSessionTimeout", strconv.Itoa(cfg.MinSessionTimeout)},
		{"maxSessionTimeout", strconv.Itoa(cfg.MaxSessionTimeout)},
		{"clientPortListenBacklog", "-1"},
		{"serverId", strconv.FormatInt(cfg.MyID, 10)},
	}
	if cfg.ClientPortAddress != "" {
		lines = append([][2]string{{"clientPortAddress", cfg.ClientPortAddress}}, lines...)
	}
	return lines
}

// containerOptions are the container reaper's settings from the server's
// system properties (znode.container.*).
func containerOptions(cfg *config.Config) reaper.Options {
	return reaper.Options{
		CheckInterval: time.Duration(cfg.ContainerCheckIntervalMs()) * time.Millisecond,
		MaxPerMinute:  cfg.ContainerMaxPerMinute(),
		MaxNeverUsed:  time.Duration(cfg.ContainerMaxNeverUsedIntervalMs()) * time.Millisecond,
	}
}
