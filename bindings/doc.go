// Package bindings evaluates TriggerBinding params against an incoming event.
//
// A binding param value is text that may contain $(...) expressions, e.g.
//
//	$(body.head_commit.id)
//	refs/heads/$(body.ref)-$(header.X-Foo)
//	$(body.commits[?(@.id=="abc")].message)
//
// The expression roots are body, header, extensions and context, as in Tekton
// Triggers. Expressions are relaxed JSONPath: Tekton turns $(x) into the
// client-go JSONPath template {.x}. This package does the same for anything
// beyond plain field / index / ['quoted key'] steps (filters, wildcards,
// slices, unions, recursive descent), and walks plain paths directly, which
// is much faster and gives identical results.
//
// Result formatting follows Tekton: a string is inserted as is, a number or
// bool as its JSON text (integral numbers without a fraction: 42), an object
// or array as compact JSON, JSON null as "null". Several results (a wildcard
// or filter) become a JSON array; no results at all become "[]".
//
// Differences from Tekton, all deliberate:
//   - A string result is returned raw. Tekton returns it JSON-escaped (quotes
//     and newlines as \" and \n) because it later pastes it unescaped into the
//     template JSON; the templates package escapes at insertion instead, so
//     the rendered resources are the same.
//   - $(body['a.b']) reads the key "a.b". client-go JSONPath splits the quoted
//     key on dots (it reads body.a.b); Tekton's documented way, $(body.a\.b),
//     works too.
//   - A syntax error is reported by [Compile]; Tekton only notices it when an
//     event arrives and then falls back to the template default. An
//     unterminated "$(" is a syntax error here; Tekton keeps it as literal text.
//   - A field that does not exist (or an index out of range, or a step into a
//     value of the wrong type) is reported per param in the missing map so the
//     caller can fall back to the TriggerTemplate default of the whole param.
//     Tekton substitutes the default for just that one expression inside the
//     param value; for the usual one-expression value this is the same.
//   - $(context.eventURL) and $(context.triggerName) are hookrun additions;
//     Tekton's binding context only has eventID.
//
// Headers are looked up by their canonical name ($(header.x-foo) reads
// X-Foo); several values of one header are joined with ",". $(header) is the
// JSON object of all headers with joined values, as in Tekton.
package bindings
