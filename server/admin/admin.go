package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/config"
)

// Options are what the commands read.
type Options struct {
	Server *clientconn.Server
	Config *config.Config
	// Leader, in an ensemble, returns the current leader's id (0: none);
	// nil on a standalone server.
	Leader func() int64
	Logger *slog.Logger
}

// command answers one command with its JSON fields (without "command"
// and "error"), or an error for the "error" field.
type command func(o *Options) (map[string]any, error)

// commands are upstream's primary names; aliases maps upstream's other
// names (the four-letter words) to them.
var (
	commands = map[string]command{
		"ruok":          func(*Options) (map[string]any, error) { return map[string]any{}, nil },
		"monitor":       monitor,
		"stats":         func(o *Options) (map[string]any, error) { return stats(o, true), nil },
		"server_stats":  func(o *Options) (map[string]any, error) { return stats(o, false), nil },
		"leader":        leader,
		"configuration": configuration,
		"connections":   connections,
		"watch_summary": watchSummary,
		"is_read_only":  isReadOnly,
		"dirs":          dirs,
		"environment":   environment,
	}
	aliases = map[string]string{
		"mntr": "monitor", "stat": "stats", "srvr": "server_stats", "conf": "configuration",
		"cons": "connections", "wchs": "watch_summary", "isro": "is_read_only", "envi": "environment",
		"lead": "leader",
	}
)

// Handler serves the commands under prefix (admin.commandURL) and, at
// prefix itself, a page linking them, as upstream.
func Handler(prefix string, o Options) http.Handler {
	prefix = "/" + strings.Trim(prefix, "/")
	mux := http.NewServeMux()
	index := func(w http.ResponseWriter, r *http.Request) {
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		w.Header().Set("Content-Type", "text/html")
		for _, n := range names {
			fmt.Fprintf(w, "<a href=\"%s/%s\">%s</a>\n<br/>\n", prefix, html.EscapeString(n), html.EscapeString(n))
		}
	}
	mux.HandleFunc(prefix, index)
	mux.HandleFunc(prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.Trim(strings.TrimPrefix(r.URL.Path, prefix+"/"), "/")
		if name == "" {
			index(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(run(&o, name))
	})
	return mux
}

// run answers the command name (or alias).
func run(o *Options, name string) map[string]any {
	primary := name
	if p, ok := aliases[name]; ok {
		primary = p
	}
	cmd, ok := commands[primary]
	if !ok {
		return map[string]any{"command": name, "error": "Unknown command: " + name}
	}
	out, err := cmd(o)
	if out == nil {
		out = map[string]any{}
	}
	out["command"] = primary
	out["error"] = nil
	if err != nil {
		out["error"] = err.Error()
	}
	return out
}

// Serve serves the commands on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, prefix string, o Options) error {
	srv := &http.Server{Handler: Handler(prefix, o), ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: serve %s: %w", l.Addr(), err)
	}
	return nil
}

// monitor is mntr's figures under upstream's names (without zk_), numbers
// as numbers.
func monitor(o *Options) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range o.Server.Mntr() {
		out[strings.TrimPrefix(kv[0], "zk_")] = number(kv[1])
	}
	return out, nil
}

// number is s as a JSON number when it is one.
func number(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

// stats is upstream's StatCommand (withConns) or StatResetCommand's
// sibling server_stats: ServerStats and the connections' summaries.
func stats(o *Options, withConns bool) map[string]any {
	in := o.Server.Info()
	response := map[string]any{"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1}
	out := map[string]any{
		"version":   in.Version,
		"read_only": in.Stats.Mode == "read-only",
		"server_stats": map[string]any{
			"packets_sent":                 in.Sent,
			"packets_received":             in.Received,
			"fsync_threshold_exceed_count": 0,
			"client_response_stats":        response,
			"data_dir_size":                in.DataDirSize,
			"log_dir_size":                 in.LogDirSize,
			"provider_null":                false,
			"server_state":                 in.Stats.Mode,
			"last_processed_zxid":          in.Stats.LastZxid,
			"outstanding_requests":         in.Stats.Outstanding,
			"avg_latency":                  in.AvgLatencyMs,
			"max_latency":                  in.MaxLatencyMs,
			"min_latency":                  in.MinLatencyMs,
			"num_alive_client_connections": in.Connections,
			"uptime":                       in.Uptime.Milliseconds(),
			"auth_failed_count":            0,
			"non_mtlsremote_conn_count":    0,
			"non_mtlslocal_conn_count":     0,
		},
		"client_response": response,
		"node_count":      in.NodeCount,
	}
	if in.Stats.Mode == "leader" {
		// Proposal sizes are not tracked here (srvr says -1/-1/-1 too).
		out["proposal_stats"] = map[string]any{"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1}
	}
	if withConns {
		var conns []map[string]any
		for _, c := range o.Server.Connections() {
			conns = append(conns, map[string]any{
				"remote_socket_address": c.Remote, "interest_ops": 1,
				"outstanding_requests": c.Queued, "packets_received": c.Received, "packets_sent": c.Sent,
			})
		}
		out["connections"] = nonNil(conns)
		out["secure_connections"] = []any{}
	}
	return out
}

// leader is upstream's LeaderCommand: only an ensemble member answers.
func leader(o *Options) (map[string]any, error) {
	if o.Leader == nil {
		return nil, errors.New("server is not initialized")
	}
	id := o.Leader()
	out := map[string]any{"is_leader": id != 0 && id == o.Config.MyID, "leader_id": id, "leader_ip": ""}
	if s, ok := o.Config.Servers[id]; ok {
		out["leader_ip"] = s.Host
	}
	return out, nil
}

// configuration is upstream's ZooKeeperServerConf.
func configuration(o *Options) (map[string]any, error) {
	c := o.Config
	id := c.MyID
	if c.Standalone() {
		id = 0
	}
	return map[string]any{
		"client_port":                c.ClientPort,
		"data_dir":                   strings.TrimSuffix(c.DataDir, "/") + "/version-2",
		"data_log_dir":               strings.TrimSuffix(c.DataLogDir, "/") + "/version-2",
		"tick_time":                  c.TickTime,
		"max_client_cnxns":           c.MaxClientCnxns,
		"min_session_timeout":        c.MinSessionTimeout,
		"max_session_timeout":        c.MaxSessionTimeout,
		"server_id":                  id,
		"client_port_listen_backlog": -1,
	}, nil
}

// connections is upstream's ConsCommand.
func connections(o *Options) (map[string]any, error) {
	var conns []map[string]any
	for _, c := range o.Server.Connections() {
		conns = append(conns, map[string]any{
			"remote_socket_address": c.Remote, "interest_ops": 1, "outstanding_requests": c.Queued,
			"packets_received": c.Received, "packets_sent": c.Sent, "session_id": c.SessionID,
			"last_operation": c.LastOp, "established": c.EstablishedMs, "session_timeout": c.TimeoutMs,
			"last_cxid": c.LastCxid, "last_zxid": c.LastZxid, "last_response_time": c.LastResponseTimeMs,
			"last_latency": c.LastLatencyMs, "min_latency": c.MinLatencyMs, "avg_latency": c.AvgLatencyMs,
			"max_latency": c.MaxLatencyMs,
		})
	}
	return map[string]any{"connections": nonNil(conns), "secure_connections": []any{}}, nil
}

func watchSummary(o *Options) (map[string]any, error) {
	conns, paths, total := o.Server.WatchSummary()
	return map[string]any{"num_connections": conns, "num_paths": paths, "num_total_watches": total}, nil
}

func isReadOnly(o *Options) (map[string]any, error) {
	return map[string]any{"read_only": o.Server.Info().Stats.Mode == "read-only"}, nil
}

func dirs(o *Options) (map[string]any, error) {
	in := o.Server.Info()
	return map[string]any{"datadir_size": in.DataDirSize, "logdir_size": in.LogDirSize}, nil
}

// environment is envi's lines; the Go runtime's stand where the JVM's do.
func environment(o *Options) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range o.Server.Environment() {
		out[kv[0]] = kv[1]
	}
	return out, nil
}

func nonNil(s []map[string]any) any {
	if s == nil {
		return []any{}
	}
	return s
}
