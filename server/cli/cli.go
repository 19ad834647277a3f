package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/server"
	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/datadir"
)

// NewCommand returns the zkserver root command. use is the name it is
// invoked by ("zkserver", or a hidden subcommand name inside zkbench).
func NewCommand(use string) *cobra.Command {
	root := &cobra.Command{
		Use:           use,
		Short:         "A ZooKeeper server written in Go, configured by zoo.cfg and myid",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(startCommand(), statusCommand(), purgeCommand(), versionCommand())
	return root
}

type startOptions struct {
	logLevel string
}

func startCommand() *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:   "start-foreground <zoo.cfg>",
		Short: "Run the server in the foreground until SIGINT or SIGTERM",
		Example: `  zkserver start-foreground conf/zoo.cfg
  SERVER_JVMFLAGS="-Djute.maxbuffer=4194304" zkserver start-foreground zoo.cfg`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStart(cmd.Context(), args[0], o, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

func runStart(ctx context.Context, cfgPath string, o startOptions, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := config.Load(cfgPath, os.Environ())
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Info("starting zkserver", "config", cfgPath, "myid", cfg.MyID)
	return server.Run(ctx, cfg, server.Options{Logger: log})
}

func statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status <zoo.cfg>",
		Short: "Ask the server of a zoo.cfg for its mode, as zkServer.sh status does",
		Example: `  zkserver status conf/zoo.cfg
  # Mode: follower`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(args[0], cmd.OutOrStdout())
		},
	}
}

func runStatus(cfgPath string, out io.Writer) error {
	cfg, err := config.Load(cfgPath, os.Environ())
	if err != nil {
		return err
	}
	host, port := statusAddress(cfg)
	fmt.Fprintf(out, "Using config: %s\n", cfgPath)
	fmt.Fprintf(out, "Client port found: %d. Client address: %s. Client SSL: false.\n", port, host)
	mode, err := Mode(net.JoinHostPort(host, strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		return fmt.Errorf("error contacting service; it is probably not running: %w", err)
	}
	fmt.Fprintf(out, "Mode: %s\n", mode)
	return nil
}

// statusAddress is where zkServer.sh status would look for the server.
func statusAddress(cfg *config.Config) (string, int) {
	host, port := cfg.ClientPortAddress, cfg.ClientPort
	if s, ok := cfg.Servers[cfg.MyID]; ok && s.ClientPort != 0 {
		port = s.ClientPort
		if s.ClientHost != "" {
			host = s.ClientHost
		}
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return host, port
}

// Mode sends srvr to addr and returns the reported Mode line.
func Mode(addr string, timeout time.Duration) (string, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write([]byte("srvr")); err != nil {
		return "", err
	}
	sc := bufio.NewScanner(nc)
	for sc.Scan() {
		if mode, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return mode, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no Mode line in srvr output")
}

func purgeCommand() *cobra.Command {
	var retain int
	cmd := &cobra.Command{
		Use:     "purge <zoo.cfg>",
		Short:   "Remove old snapshots and the logs they no longer need (upstream zkCleanup.sh / PurgeTxnLog)",
		Example: `  zkserver purge conf/zoo.cfg --retain 3`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0], os.Environ())
			if err != nil {
				return err
			}
			if retain < 3 {
				return fmt.Errorf("--retain must be at least 3 (upstream's minimum), got %d", retain)
			}
			removed, err := datadir.At(cfg, nil).Purge(retain)
			if err != nil {
				return err
			}
			for _, f := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", f)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "purged %d files, kept the newest %d snapshots\n", len(removed), retain)
			return nil
		},
	}
	cmd.Flags().IntVar(&retain, "retain", 3, "number of snapshots to keep (at least 3)")
	return cmd
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "zkserver (zkbench) speaking the ZooKeeper 3.5-3.8 client protocol")
			return nil
		},
	}
}
