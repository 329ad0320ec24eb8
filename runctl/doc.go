// Package runctl is hookrun's run control: what a Trigger asks, beyond Tekton's fields, about when its
// runs start. It is configured with annotations on the Trigger (or, for triggers written inline in an
// EventListener, on the EventListener), so Tekton YAML stays valid and Tekton ignores them:
//
//	hookrun.dev/concurrency-group: "body.repository.full_name + '/' + body.ref"   # CEL → string
//	hookrun.dev/concurrency-policy: cancel-in-progress | queue | skip              # default queue
//	hookrun.dev/cancel-default-branch: "true"   # also cancel runs of pushes to the default branch
//	hookrun.dev/paths: "src/**, go.mod"          # run only when a changed file matches one glob
//	hookrun.dev/paths-ignore: "docs/**, **/*.md" # … and not when every changed file matches these
//	hookrun.dev/skip-ci: "ignore"                # run even when the head commit says [skip ci]
//
// The listener evaluates the group key over the event (body, header, extensions, after the trigger's
// interceptors) and stamps every resource the trigger creates with the group label (a hash of the key)
// and the policy; the executor enforces the policy for any PipelineRun carrying them, so a run created
// with kubectl takes part too:
//
//   - queue: runs of one group start one at a time, oldest first;
//   - cancel-in-progress: a run that starts cancels the older unfinished runs of its group through the
//     normal cancel path (finally tasks run), naming itself and its delivery in their condition;
//     runs of pushes to the repository's default branch are never cancelled unless
//     hookrun.dev/cancel-default-branch is "true" on the trigger;
//   - skip: the listener answers "skipped" for a delivery whose group has an unfinished run.
//
// A pull/merge request that is closed or merged cancels its group's unfinished runs, whatever the
// trigger's filters say about closed events.
//
// Path filters use the files a push lists (GitHub and GitLab list added/modified/removed per commit),
// and for pull/merge request events the files the forge API lists (PullRequestOf, FilesCache: once per
// head SHA; the listener holds the credentials, see AnnotationForgeSecret); when neither is to be had
// (Bitbucket pushes, a failing forge) the filter cannot be evaluated and the trigger runs, saying so in
// its answer. Globs are doublestar patterns ("**" crosses
// directories). "[skip ci]", "[ci skip]", "[no ci]", "[skip actions]" and "[actions skip]" in the head
// commit message of a push skip the trigger unless hookrun.dev/skip-ci is "ignore".
package runctl
