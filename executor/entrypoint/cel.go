package entrypoint

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ExecCEL is the CELFunc of the small in-Pod binary: it runs `HOOKRUN step cel EXPR` (the full hookrun
// binary at hookrun, copied into the Pod by prepare only when a step has a cel when expression), which
// prints true or false, or the error on stderr and exits 1.
func ExecCEL(hookrun string) CELFunc {
	return func(expr string) (bool, error) {
		var out, errOut bytes.Buffer
		cmd := exec.Command(hookrun, "step", "cel", expr)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit) && errOut.Len() > 0:
			return false, errors.New(strings.TrimSpace(errOut.String()))
		case err != nil:
			return false, fmt.Errorf("cel %q: evaluating needs the full hookrun binary %s: %w", expr, hookrun, err)
		}
		switch v := strings.TrimSpace(out.String()); v {
		case "true", "false":
			return v == "true", nil
		default:
			return false, fmt.Errorf("cel %q: %s step cel answered %q", expr, hookrun, v)
		}
	}
}
