package main

import (
	"context"
	"errors"
	"io"
)

// runLogs is being written; this placeholder is replaced by the real command.
func runLogs(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet")
}
