package interceptors

import (
	"context"
	"maps"
)

// Run runs chain in order. After each interceptor that continues, its
// Response.Extensions are merged into req.Extensions (top-level keys replace
// earlier ones, as in Tekton), so later interceptors see earlier overlays.
// The first response that does not continue is returned (a stop reported
// with Code OK is turned into Skip). When every
// interceptor continues, Run returns an OK response whose Extensions are
// the merged extensions. A legacy webhook interceptor's reply (Response.Replace) replaces req's Body,
// Decoded and Header for the interceptors after it; the last one is returned in Replace.
//
// Run never modifies the map the caller put in req.Extensions: the first
// merge replaces req.Extensions with a copy.
func Run(ctx context.Context, chain []Interceptor, req *Request) Response {
	return run(ctx, chain, req, false)
}

// RunVerified is Run for a chain whose first interceptor is a Verifier that already let req through
// (its Verify continued): that interceptor's Finish runs instead of its Process, so the signature is not
// checked twice. It panics if chain[0] is not a Verifier.
func RunVerified(ctx context.Context, chain []Interceptor, req *Request) Response {
	return run(ctx, chain, req, true)
}

// Verifiers are the interceptors of a chain that check a provider signature or token.
var (
	_ Verifier = (*githubInterceptor)(nil)
	_ Verifier = (*gitlabInterceptor)(nil)
	_ Verifier = (*bitbucketInterceptor)(nil)
)

func run(ctx context.Context, chain []Interceptor, req *Request, verified bool) Response {
	copied := false
	var replaced *Event
	for i, ic := range chain {
		if err := ctx.Err(); err != nil {
			return fail(Internal, "interceptor chain interrupted: %v", err)
		}
		var resp Response
		if i == 0 && verified {
			resp = ic.(Verifier).Finish(ctx, req)
		} else {
			resp = ic.Process(ctx, req)
		}
		if !resp.Continue {
			if resp.Code == OK {
				// A stop without a reason is a plain skip.
				resp.Code = Skip
			}
			return resp
		}
		if resp.Replace != nil {
			req.Body, req.Decoded, req.Header = resp.Replace.Body, resp.Replace.Decoded, resp.Replace.Header
			replaced = resp.Replace
		}
		if len(resp.Extensions) == 0 {
			continue
		}
		if !copied {
			merged := make(map[string]any, len(req.Extensions)+len(resp.Extensions))
			maps.Copy(merged, req.Extensions)
			req.Extensions = merged
			copied = true
		}
		maps.Copy(req.Extensions, resp.Extensions)
	}
	return Response{Continue: true, Code: OK, Extensions: req.Extensions, Replace: replaced}
}
