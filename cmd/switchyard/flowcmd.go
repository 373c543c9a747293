package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/switchyard/switchyard/flows"
)

// errInvalidFlow is returned when a validated document has errors (exit 1,
// the problems already printed).
var errInvalidFlow = errors.New("invalid flow")

func flowCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprint(stderr, "Usage: switchyard flow validate FILE...\n\nChecks flow documents and prints every problem with its applet and field.\nUse - to read standard input.\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil
		}
		return errUsage
	}
	files := args[1:]
	if len(files) == 0 {
		fmt.Fprint(stderr, "Usage: switchyard flow validate FILE...\n")
		return errUsage
	}
	failed := false
	for _, name := range files {
		data, err := readDocument(name)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			failed = true
			continue
		}
		_, problems := flows.Load(data)
		for _, p := range problems {
			fmt.Fprintf(stdout, "%s: %s\n", name, p)
		}
		errs, warns := len(problems.Errors()), len(problems.Warnings())
		if errs > 0 {
			failed = true
			fmt.Fprintf(stdout, "%s: invalid (%d errors, %d warnings)\n", name, errs, warns)
		} else {
			fmt.Fprintf(stdout, "%s: ok (%d warnings)\n", name, warns)
		}
	}
	if failed {
		return errInvalidFlow
	}
	return nil
}

func readDocument(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, flows.MaxDocumentSize+1))
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, flows.MaxDocumentSize+1))
}
