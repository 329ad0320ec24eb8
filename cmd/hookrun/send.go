package main

import (
	"context"
	"errors"
	"io"
)

// runSend is being written; this placeholder is replaced by the real command.
func runSend(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet")
}
