package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookrun/hookrun/listener"
)

// defaultDeadLetter is where `hookrun dev` keeps dead letters (its --state is .hookrun by default).
const defaultDeadLetter = ".hookrun/dead-letter"

const deadLetterHelp = `Dead letters are webhook deliveries that reached the listener while the Kubernetes API was
unavailable: the listener answered 503, kept nothing, and wrote the delivery (body and provider headers)
to its --dead-letter directory. The listener re-submits them by itself once the API is back; these
commands show what is waiting and replay one by hand.
`

func runDeliveries(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("deliveries", "deliveries [--dead-letter DIR]", stderr)
	usage := fs.Usage
	fs.Usage = func() {
		fmt.Fprint(stderr, deadLetterHelp+"\nLists them, oldest first: ID, time, EventListener, provider, event, size, attempts, last error.\n"+
			"Secret headers (X-Gitlab-Token…) are stored, a replay needs them, but never printed.\n\n")
		usage()
	}
	dir := fs.String("dead-letter", defaultDeadLetter, "dead-letter directory (the listener's --dead-letter; hookrun dev: STATE/dead-letter)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "hookrun deliveries takes no arguments")
		return errUsage
	}
	dl, err := openDeadLetterDir(*dir)
	if err != nil {
		return err
	}
	list, err := dl.List()
	if err != nil {
		return err
	}
	if len(list) == 0 {
		_, err := fmt.Fprintf(stdout, "no dead letters in %s\n", *dir)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tEVENTLISTENER\tPROVIDER\tEVENT\tSIZE\tATTEMPTS\tLAST ERROR")
	for _, d := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", d.ID, d.Time.Local().Format(time.DateTime), d.EventListener,
			orDash(d.Provider), orDash(d.Event), d.Size, d.Attempts, orDash(shorten(d.LastError, 100)))
	}
	return tw.Flush()
}

func runRedeliver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("redeliver", "redeliver [--dead-letter DIR] [--url URL] [--keep] ID", stderr)
	usage := fs.Usage
	fs.Usage = func() {
		fmt.Fprint(stderr, deadLetterHelp+"\nPOSTs dead letter ID (see hookrun deliveries) to a listener with the same bytes and headers, so its\n"+
			"signature is checked again, and removes it once answered 2xx (--keep: never).\n\n")
		usage()
	}
	dir := fs.String("dead-letter", defaultDeadLetter, "dead-letter directory (the listener's --dead-letter; hookrun dev: STATE/dead-letter)")
	base := fs.String("url", "http://localhost:8080", "the listener's base URL; the delivery's path (/hooks/EVENTLISTENER) is appended")
	keep := fs.Bool("keep", false, "keep the dead letter even when the listener accepted it")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the listener's answer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "hookrun redeliver: give exactly one ID (hookrun deliveries lists them)")
		return errUsage
	}
	dl, err := openDeadLetterDir(*dir)
	if err != nil {
		return err
	}
	d, err := dl.Get(fs.Arg(0))
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := d.Request(rctx, *base)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("redeliver %s: %w", d.ID, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintf(stdout, "%s: %s\n%s\n", d.ID, resp.Status, strings.TrimSpace(string(answer)))
	if resp.StatusCode/100 != 2 {
		if err := dl.Update(d.ID, d.Attempts+1, fmt.Sprintf("hookrun redeliver: answered %s", resp.Status)); err != nil {
			fmt.Fprintf(stderr, "hookrun redeliver: %v\n", err)
		}
		fmt.Fprintf(stderr, "hookrun redeliver: the listener answered %s; the dead letter is kept\n", resp.Status)
		return errFailed
	}
	if *keep {
		return nil
	}
	if err := dl.Delete(d.ID); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "removed dead letter %s\n", d.ID)
	return err
}

// openDeadLetterDir opens an existing dead-letter directory (a mistyped path is an error, not an empty
// list).
func openDeadLetterDir(dir string) (*listener.DeadLetter, error) {
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		return nil, fmt.Errorf("dead-letter directory %s: %w (the listener's --dead-letter, or hookrun dev's STATE/dead-letter)", dir, err)
	}
	return listener.OpenDeadLetter(dir, 0, 0, slog.New(slog.DiscardHandler))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
