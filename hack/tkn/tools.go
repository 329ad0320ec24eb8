//go:build tools

// Package tools pins Tekton's CLI, tkn, which make test-tkn builds into bin/ to check that what tkn shows
// about hookrun's runs is true (test/e2e TestTkn).
package tools

import _ "github.com/tektoncd/cli/cmd/tkn"
