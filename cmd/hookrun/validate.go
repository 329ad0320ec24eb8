package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/hookrun/hookrun/api/validate"
)

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate -f FILE_OR_DIR [-f FILE_OR_DIR...] [FILE_OR_DIR...]", stderr)
	var files stringList
	fs.Var(&files, "f", "a YAML/JSON file or a directory (read recursively); repeatable")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	files = append(files, fs.Args()...)
	if len(files) == 0 {
		fmt.Fprintln(stderr, "hookrun validate: give at least one file or directory with -f")
		fs.Usage()
		return errUsage
	}
	objs, problems, nfiles, err := validate.Files(files)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p.String())
	}
	for _, w := range append(validate.Warnings(objs), validate.OpenTriggers(objs)...) {
		fmt.Fprintln(stdout, "warning: "+w.String())
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "%d problem(s) in %d object(s) from %d file(s)\n", len(problems), len(objs), nfiles)
		return errFailed
	}
	fmt.Fprintf(stdout, "%d object(s) in %d file(s): ok\n", len(objs), nfiles)
	return nil
}
