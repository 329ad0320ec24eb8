package main

import (
	"context"
	"errors"
	"io"
)

// runExecutor is being written; this placeholder is replaced by the real command.
func runExecutor(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet")
}
