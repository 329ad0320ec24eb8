// Package conformance checks, by reflection, every JSON field path of Tekton's kinds against hookrun's API
// types, and generates docs/compatibility.md: each Tekton field is implemented (in hookrun's types) or
// listed there as refused/ignored with the reason. It is its own Go module so that hookrun itself does not
// depend on Tekton; its go.mod pins the Tekton releases compared (github.com/tektoncd/pipeline v1.15.1 and
// github.com/tektoncd/triggers v0.37.0, both served by the Go module proxy).
//
//	cd hack/conformance && go test -mod=mod ./... # check (part of make test; -mod=mod follows hookrun's go.mod)
//	make compat-docs                              # regenerate the table, keeping the decisions written in it
//
// To move to newer Tekton releases: go get github.com/tektoncd/pipeline@vX github.com/tektoncd/triggers@vY,
// go mod tidy, make compat-docs, then decide every row the test reports as undecided.
package conformance
