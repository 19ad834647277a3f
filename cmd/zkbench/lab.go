package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/internal/netns"
)

// defaultLab is the lab's name when --name is not given.
const defaultLab = "zkblab"

func newLabCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Hosts on this Linux machine: network namespaces on a bridge, for trying agents on many hosts",
		Long: `lab makes hosts out of network namespaces on this machine (root needed), so
that a coordinator, server agents and client agents can each run on a host
of their own, with its own address in 198.18.0.0/15, as on separate
machines. The hosts share a bridge that lives in a namespace of its own:
they reach each other and nothing else (no route leaves the lab). They
share this machine's CPUs, memory and file system.

  lab up      creates the hosts (replacing nothing: take a lab down first)
  lab ls      lists them with their addresses
  lab exec    runs a command on one of them
  lab down    kills every process on the hosts and removes them`,
		Example: `  zkbench lab up --hosts coord,s1,s2,s3,c1,c2
  zkbench lab exec coord -- zkbench coordinator --addr 198.18.0.1 &
  zkbench lab exec s1 -- zkbench agent --coord 198.18.0.1:2191 --name s1 --addr 198.18.0.2 &
  zkbench lab exec c1 -- zkbench agent --coord 198.18.0.1:2191 --name c1 --no-server &
  zkbench lab exec coord -- zkbench run --agents 198.18.0.1:2191 --server-agents s1,s2,s3 --client-agents c1
  zkbench lab down`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&name, "name", defaultLab, "the lab's name (prefix of its namespaces: NAME.HOST)")
	cmd.AddCommand(newLabUpCmd(&name), newLabLsCmd(&name), newLabExecCmd(&name), newLabDownCmd(&name))
	return cmd
}

// labHosts parses --hosts: a count (hosts h1..hN) or names.
func labHosts(v string) ([]string, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 {
			return nil, fmt.Errorf("--hosts %d: want at least 1", n)
		}
		hosts := make([]string, n)
		for i := range hosts {
			hosts[i] = "h" + strconv.Itoa(i+1)
		}
		return hosts, nil
	}
	var hosts []string
	for _, h := range strings.Split(v, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("--hosts %q: want a count or names", v)
	}
	return hosts, nil
}

// labCPU parses --cpu: HOST=CORES,...
func labCPU(v string) (map[string]float64, error) {
	if v == "" {
		return nil, nil
	}
	out := map[string]float64{}
	for _, kv := range strings.Split(v, ",") {
		h, c, ok := strings.Cut(strings.TrimSpace(kv), "=")
		cores, err := strconv.ParseFloat(c, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("--cpu %q: want HOST=CORES,... (c1=0.5,c2=0.5)", v)
		}
		out[h] = cores
	}
	return out, nil
}

func newLabUpCmd(name *string) *cobra.Command {
	var hosts, subnet, cpu string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create the lab's hosts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hs, err := labHosts(hosts)
			if err != nil {
				return usageError(err)
			}
			sn, err := netip.ParsePrefix(subnet)
			if err != nil {
				return usageError(fmt.Errorf("--subnet: %w", err))
			}
			limits, err := labCPU(cpu)
			if err != nil {
				return usageError(err)
			}
			if err := netns.Check(); err != nil {
				return err
			}
			if l, err := netns.Open(*name); err == nil {
				return usageError(fmt.Errorf("lab %s is up already (%d hosts); take it down first: zkbench lab down --name %s", l.Name, len(l.Hosts), l.Name))
			}
			l, err := netns.Create(cmd.Context(), netns.Options{Name: *name, Hosts: hs, Subnet: sn, CPU: limits})
			if err != nil {
				return usageOrRun(err)
			}
			printLab(cmd.OutOrStdout(), l)
			return nil
		},
	}
	cmd.Flags().StringVar(&hosts, "hosts", "3", "how many hosts (h1..hN), or their names (coord,s1,s2,...)")
	cmd.Flags().StringVar(&cpu, "cpu", "", "limit hosts to a share of this machine's CPUs, as small machines: HOST=CORES,... (a CFS quota on a cgroup per host)")
	cmd.Flags().StringVar(&subnet, "subnet", netns.DefaultSubnet.String(), "the hosts' subnet, inside 198.18.0.0/15; host i gets its i-th address")
	return cmd
}

// usageOrRun marks netns's refusals of bad options as usage errors.
func usageOrRun(err error) error {
	if errors.Is(err, netns.ErrInvalid) {
		return usageError(err)
	}
	return err
}

func newLabLsCmd(name *string) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the lab's hosts and addresses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := netns.Open(*name)
			if err != nil {
				return labMissing(err, *name)
			}
			printLab(cmd.OutOrStdout(), l)
			return nil
		},
	}
}

func newLabExecCmd(name *string) *cobra.Command {
	return &cobra.Command{
		Use:   "exec HOST -- COMMAND [ARG...]",
		Short: "Run a command on one of the lab's hosts (in its network namespace)",
		Long: `exec runs COMMAND on HOST: in the host's network namespace, with this
terminal's input and output. zkbench exits with the command's exit code.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := netns.Open(*name)
			if err != nil {
				return labMissing(err, *name)
			}
			h, ok := l.Host(args[0])
			if !ok {
				var names []string
				for _, h := range l.Hosts {
					names = append(names, h.Name)
				}
				return usageError(fmt.Errorf("lab %s has no host %q (hosts: %s)", l.Name, args[0], strings.Join(names, ", ")))
			}
			c := h.Command(context.WithoutCancel(cmd.Context()), args[1], args[2:]...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
			err = c.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() > 0 {
				return &exitError{code: ee.ExitCode(), err: fmt.Errorf("lab exec %s: %s: %w", h.Name, args[1], err)}
			}
			return err
		},
	}
}

func newLabDownCmd(name *string) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Kill every process on the lab's hosts and remove them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := netns.Check(); err != nil {
				return err
			}
			if err := netns.Remove(context.WithoutCancel(cmd.Context()), *name); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab %s: down\n", *name)
			return nil
		},
	}
}

func labMissing(err error, name string) error {
	if errors.Is(err, netns.ErrNoLab) {
		return usageError(fmt.Errorf("lab %s is not up (zkbench lab up --name %s --hosts ...)", name, name))
	}
	return err
}

// printLab lists the hosts: name, address, CPU limit, namespace.
func printLab(w io.Writer, l *netns.Lab) {
	fmt.Fprintf(w, "lab %s: %d hosts\n", l.Name, len(l.Hosts))
	for _, h := range l.Hosts {
		cpu := "all CPUs"
		if h.CPU > 0 {
			cpu = fmt.Sprintf("%g cores", h.CPU)
		}
		fmt.Fprintf(w, "  %-12s %-18s %-10s %s\n", h.Name, h.Addr.Addr(), cpu, h.Namespace)
	}
}
