package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-addr", "127.0.0.1:2999", "-value-size", "10"}, io.Discard)
	if err != nil || o.addr != "127.0.0.1:2999" || o.valueSize != 10 || o.maxBuffer != 0xfffff {
		t.Fatalf("parseFlags = %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-value-size", "0"},
		{"-value-size", "2000", "-max-buffer", "1000"},
		{"extra"},
		{"-nosuchflag"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v", err)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var log bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, options{addr: "127.0.0.1:0", valueSize: 8, maxBuffer: 1 << 20}, &log) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop within 10s of cancel")
	}
	if !strings.Contains(log.String(), "serving") {
		t.Errorf("log lacks the serving line: %q", log.String())
	}
}

func TestRunBadAddr(t *testing.T) {
	err := run(context.Background(), options{addr: "256.0.0.1:1", valueSize: 8, maxBuffer: 1 << 20}, io.Discard)
	if err == nil {
		t.Fatal("run accepted a bad address")
	}
}
