// Package templates renders TriggerTemplate resource templates.
//
// Each resource template is the JSON text of one spec.resourcetemplates item.
// Rendering substitutes $(tt.params.NAME) with the param's value and $(uid)
// with one random (or caller-chosen) id shared by all resources of the
// rendering, then decodes the result, checks it is an object with apiVersion
// and kind, defaults metadata.namespace, merges the Tekton labels into
// metadata.labels and, when asked, replaces metadata.generateName with a
// deterministic name.
//
// Param values come from bindings: a value resolved by a binding wins; a
// binding whose field was missing, or no binding at all, falls back to the
// param's default; with no default the rendering fails naming the param.
// Values for params the template does not declare are ignored.
//
// Behaviour compared with Tekton Triggers:
//   - Values are inserted JSON-string-escaped, so quotes, backslashes,
//     newlines and control characters in a payload keep the resource valid and
//     read back exactly. Tekton gets the same result for strings it took from
//     a payload (it escapes them in the binding), but pastes defaults,
//     literal binding text and object values unescaped, which can break the
//     document.
//   - Substitution is a single pass: text inside an inserted value is never
//     scanned again, so a payload containing $(tt.params.other) or $(uid)
//     lands verbatim. Tekton replaces param after param (then $(uid)) over
//     the whole text. "$(" inside values is not rewritten to "$$(".
//   - A $(tt.params.NAME) reference to a param that is not declared is a
//     Compile error (Tekton's admission webhook rejects such a template).
//   - The $(params.NAME) form was deprecated in Tekton Triggers v0.6 and
//     removed in 2020 (tektoncd/triggers#690); it is left untouched here: inside an embedded pipelineSpec or taskSpec it
//     refers to Pipeline or Task params. LegacyRefs lists the ones that look
//     like old TriggerTemplate references so `hookrun validate` can warn.
//   - A generated $(uid) is 5 lowercase alphanumerics like a generateName
//     suffix (older Tekton did the same; recent Tekton uses a UUID). A
//     caller-chosen Options.UID is used as given.
package templates
