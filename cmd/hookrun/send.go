package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/hookrun/hookrun/listener"
)

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("send", "send --provider github|gitlab|bitbucket --event EVENT [--secret S] [--url URL] [--delivery ID] FILE", stderr)
	var o listener.Outgoing
	fs.StringVar(&o.Provider, "provider", "github", "github, gitlab or bitbucket: decides the headers and the signature")
	fs.StringVar(&o.Event, "event", "push", "event type (github: push, pull_request…; gitlab: push, merge_request, tag_push, note or a header value; bitbucket: repo:push…)")
	fs.StringVar(&o.Secret, "secret", os.Getenv("HOOKRUN_SECRET"), "webhook secret (github/bitbucket HMAC) or token (gitlab); default $HOOKRUN_SECRET")
	fs.StringVar(&o.ID, "delivery", "", "delivery id to send (repeat one to test redelivery); default a fresh UUID")
	url := fs.String("url", "http://localhost:8080/hooks", "listener URL")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "hookrun send: give exactly one payload FILE (\"-\" reads standard input)")
		fs.Usage()
		return errUsage
	}
	var err error
	if o.Body, err = readPayload(fs.Arg(0)); err != nil {
		return err
	}
	if o.ID == "" {
		o.ID = listener.NewUUID()
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := o.Request(ctx, *url)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", *url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s (delivery %s)\n", resp.Proto, resp.Status, o.ID)
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") == nil {
		body = pretty.Bytes()
	}
	fmt.Fprintln(stdout, string(bytes.TrimSpace(body)))
	if resp.StatusCode >= 300 {
		return errFailed
	}
	return nil
}

// readPayload reads a webhook body from a file, or from standard input for "-".
func readPayload(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}
