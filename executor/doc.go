// Package executor is hookrun's built-in Tekton executor: a PipelineRun reconciler that walks the
// Pipeline's graph creating TaskRuns, and a TaskRun reconciler that runs each TaskRun as one Pod and reports
// the Pod's progress in Tekton's status shape (so tkn and the Dashboard read it). Setup registers both on a
// controller-runtime manager; `hookrun executor` and `hookrun dev` call it.
//
// # The Pod of a TaskRun
//
// Steps back to back. By default a TaskRun's Pod has Tekton's shape: its regular containers are its steps
// (step-NAME, in Task order) and then hookrun-results; init containers hold prepare and the sidecars. All
// step containers start together; each wrapper (`hookrun-step run --post-file /tekton/run/I/out
// [--wait-file /tekton/run/I-1/out]`) waits for its predecessor's record — notified by inotify (fsnotify),
// polling only where the file system cannot notify —, runs its
// step, and writes "ok" (completed, skipped by its when expressions, or failed under onError: continue) or
// "failed STEP". A wrapper that reads a failure does not run its step: it exits 0 reporting reason Skipped
// ("not run: step X failed") and passes the failure on, so the Pod fails at the first failing step as
// before. hookrun-results waits for the last record. Each step's /tekton/run/I is its own emptyDir
// (tekton-internal-run-I), mounted read-write in that step only and read-only in the others and in
// hookrun-results, as Tekton mounts it; its status/ directory holds the step's exit code and step results,
// and prepare (--run-dir) makes /tekton/steps/NAME, /tekton/steps/step-NAME and /tekton/steps/I symlinks to
// it, so no step can overwrite another's record or exit code. When prepare is the Pod's only init container (no
// sidecars), it becomes the first regular container instead, with a postStart exec hook
// (`hookrun-step init --await /tekton/bin/.prepared`): the kubelet starts a Pod's regular containers one
// after another and runs each one's postStart hook to its end before it starts the next, so the steps
// start as soon as prepare has copied the wrapper, not after the kubelet notices an init container's exit
// on its next relist (up to a second). prepare announces its outcome in /tekton/bin/.prepared and ends
// once the hook has acknowledged it; a failed prepare fails the hook, the kubelet kills prepare, and the
// TaskRun fails naming prepare's error. Script sidecars run the wrapper too, so a Pod with sidecars keeps
// prepare as its first init container. The Pod's kubectl.kubernetes.io/default-container annotation names
// the first step, so `kubectl logs POD` without -c shows it, as on Tekton's Pods. Because the scheduler sums regular containers'
// requests, each resource's largest step request stays on one step and the other steps request zero of
// it (explicitly; limits are kept) — Tekton's rule. A step that gives no command or script (it runs its
// image's entrypoint, e.g. Kaniko) is wrapped around the entrypoint and CMD its image's config names,
// read from the registry with go-containerregistry and the Pod's pull credentials (the ServiceAccount's
// imagePullSecrets and docker Secrets, the pod template's imagePullSecrets) and cached by reference (a
// digest for good, a tag an hour, a failure a minute). When the registry cannot be reached, or lookups are
// off (Options.NoEntrypointLookup; hookrun dev, whose node agent runs no images), that Pod keeps the
// layout below, so nothing that ran before stops running. Options.SequentialSteps (--sequential-steps)
// uses the layout below for every Pod. The Pod's annotation hookrun.dev/steps says which layout it has
// (containers or init-containers).
//
// The sequential layout: steps run in order as init containers of one Pod. The kubelet (or hookrun's
// node agent) starts init containers one at a time and stops at the first that fails, so ordering and "a
// failing step stops the rest" come from Kubernetes itself:
//
//  1. prepare — hookrun's image (Options.HookrunImage) running `hookrun-step init --copy-self
//     /tekton/bin/hookrun-step [--copy-hookrun /tekton/bin/hookrun] [--step NAME]… [--cred KIND:SECRET=URL]…`: it copies
//     its own binary into the shared emptyDir /tekton/bin — hookrun-step (cmd/hookrun-step), the small
//     static in-Pod binary (standard library, package entrypoint and fsnotify; no Kubernetes client, no
//     CEL), so a wrapped step starts in milliseconds. A Pod with a step whose when expressions use cel
//     also gets the full hookrun binary (--copy-hookrun; the image has both): the wrapper asks it
//     (`hookrun step cel EXPR`) since the small binary has no CEL. The full binary still serves `hookrun
//     step init|run|results`, so Pods made by older executors finish. prepare then creates /tekton/results, /tekton/steps, /tekton/scripts, /tekton/home,
//     each step's /tekton/steps/NAME with Tekton's two other names for it (step-NAME and the step's
//     index, symlinks: scripts read /tekton/steps/0/exitCode by hand), and turns
//     the ServiceAccount's credential Secrets (mounted under /tekton/creds-secrets/SECRET, only in this
//     container) into /tekton/home/.docker/config.json, /tekton/home/.git-credentials + .gitconfig and
//     /tekton/home/.ssh. Secrets count when annotated tekton.dev/docker-N (basic-auth, dockerconfigjson) or
//     tekton.dev/git-N (basic-auth, ssh-auth); unannotated dockerconfigjson Secrets count as docker
//     credentials too. Node agents recognise the hookrun image and run their own executables for "hookrun"
//     and "hookrun-step" (node.Options.StepPath).
//  2. sidecar-NAME — each Task sidecar as a native sidecar (an init container with restartPolicy Always), so
//     it starts before the steps and is stopped when the Pod ends. An unnamed sidecar is "sidecar" (Tekton's
//     name), a second unnamed one sidecar-unnamed-I.
//  3. step-git-source-NAME — one per v1beta1 git input PipelineResource: the --git-image clones url at
//     revision into /workspace/NAME (or the input's targetPath).
//  4. step-NAME (step-unnamed-I for unnamed steps) — one per step. A step with a command or a script is
//     wrapped: its command becomes `/tekton/bin/hookrun-step run --name NAME [--timeout D] --on-error
//     continue|stopAndFail [--results a,b] -- COMMAND…` with the step's args unchanged, and a script
//     travels in the HOOKRUN_SCRIPT environment variable (no shebang: run by /bin/sh with "set -e" first;
//     shebang: written to /tekton/scripts/NAME and executed). The wrapper runs the step in its own process
//     group, kills the group when the step's timeout passes, exits 0 for onError: continue while recording
//     the real exit code, and writes a JSON termination message (/tekton/termination: exit code, reason,
//     and the results the step wrote to /tekton/results/NAME, each at most 4096 bytes). A step with neither
//     command nor script — an image entrypoint, such as Kaniko in the catalog Task, which gives only args —
//     is not wrapped: it runs with just its args, so the image's own entrypoint runs and nothing has to look
//     the image up in a registry. Per-step timeout and onError cannot apply to such a step; the Pod's
//     activeDeadlineSeconds (the TaskRun timeout) still bounds it.
//     The wrapper also carries the step's newer Tekton features. Step results: --step-results names them;
//     $(step.results.R.path) is /tekton/steps/NAME/results/R and the wrapper reports them as "stepResults"
//     in its termination message (status.steps[].results; a Task result declared with
//     value: $(steps.NAME.results.R) takes its value from there). $(steps.S.results.R) in a later step's
//     command, args, script, env values or when expressions is replaced by the wrapper just before the
//     step runs, from S's file — only the references the Task author wrote to an earlier step that declares R
//     (--step-result-refs S/R,…, found before params are replaced, so a webhook value never adds one).
//     Per-step when (--when, the expressions as JSON with params replaced): the wrapper evaluates
//     in/notin and cel after replacing step results; false means the step does not run, the container
//     exits 0 and its message says reason Skipped (status.steps[].terminationReason: Skipped, Tekton's
//     shape). stdoutConfig.path / stderrConfig.path (--stdout-path, --stderr-path; the same path twice
//     shares one file): the output goes to the file and still to the log. An image-entrypoint step cannot
//     have stdoutConfig, stderrConfig or step results (a validation error naming the field); its when
//     expressions are evaluated when the Pod is built (they may only use params and context): true runs it
//     as usual, false puts the wrapper with no command in its place, which reports it skipped.
//  5. hookrun-results — the one regular container (`/tekton/bin/hookrun-step results --dir
//     /tekton/results`): it reports, in its termination message, the results no wrapped step reported
//     (those written by image-entrypoint steps, e.g. Kaniko's --digest-file, and those a wrapped step's
//     own message had no room for), then exits 0. What does not fit its message either, and every step
//     result no step's message had room for, it prints to its log as "hookrun-result: {step, name, value}"
//     lines and names in the message (logResults, logStepResults); the executor reads that log through
//     pods/log (the kubelet, or the node agent's kubelet API) once the Pod has succeeded — Tekton's
//     sidecar-logs results mode — so a TaskRun's results together are not bound by the termination
//     messages; each result still is at most 4096 bytes. A log that cannot be read fails the TaskRun
//     naming the results. The kubelet keeps 12 KiB of termination messages per Pod, split evenly between
//     its containers: a Pod of more than three containers passes --message-limit 12288/N to the wrapped
//     steps and the results container, which keep their messages within it.
//
// Every step container mounts /tekton/bin (read-only), /tekton/results, /tekton/steps, /tekton/scripts,
// /tekton/home (HOME=/tekton/home unless the step sets HOME), /workspace (an emptyDir), each bound
// workspace at /workspace/NAME or its mountPath, the Task's volumes and the step's volumeMounts.
// Isolated workspaces (Tekton's rule): a workspace that any step or sidecar lists in its workspaces is
// mounted only in the containers that list it, at the listing's mountPath when given; the others are
// mounted everywhere. When the
// ServiceAccount has docker credentials, steps get DOCKER_CONFIG=/tekton/home/.docker unless they set it.
// Steps of Tasks that declare v1beta1 resources start in /workspace when they name no workingDir.
// The Pod has restartPolicy Never and activeDeadlineSeconds equal to the TaskRun's remaining timeout.
//
// Steps whose image is the upstream gcr.io/kaniko-project/executor (any tag or digest) — written in the
// Task or coming from a param default such as the catalog's BUILDER_IMAGE — get Options.KanikoImage
// instead; a BUILDER_IMAGE the run passes explicitly is used as given.
//
// # StepActions
//
// A step with ref: {name: X} runs the StepAction X of the TaskRun's namespace (tekton.dev/v1beta1 and
// v1alpha1; read uncached, once, when the TaskRun starts). The step is replaced in status.taskSpec by the
// StepAction's image, command, args, script, env, workingDir, volumeMounts, securityContext and results,
// with the StepAction's $(params.x) replaced by the step's params or the StepAction's defaults; a step param
// value may itself use the Task's params, replaced with the Task's afterwards. The step keeps its name,
// displayName, timeout, onError, when, workspaces, stdout/stderrConfig, computeResources, envFrom,
// volumeDevices and imagePullPolicy. Setting image, command, args, script, env, volumeMounts, workingDir or
// results beside ref, params on an inline step, a missing or undeclared param, or a missing StepAction
// fails the TaskRun with the field's path. resolveStepRef hands a ref.resolver to resolve.go.
//
// # Remote references and ClusterTasks
//
// A taskRef, pipelineRef or step ref with a resolver (git, http, bundles, hub, cluster: package resolve,
// in-process), the v1beta1 bundle field, and taskRef.kind ClusterTask are resolved once per run (resolve.go):
// the content is decoded strictly as a tekton.dev v1 or v1beta1 object, normalised and kept in
// status.taskSpec / status.pipelineSpec, and its source in status.provenance.refSource. Resolver params of a
// pipeline task may use the Pipeline's params. A permanent failure (bad params, not found, invalid content)
// fails the run with TaskRunResolutionFailed or PipelineRunResolutionFailed naming the field, resolver,
// param and cause; an unreachable source leaves it pending (ResolvingTaskRef / ResolvingPipelineRef) and is
// tried again after 1 s, doubling to 1 min, until the run's timeout.
//
// # Variables
//
// $(params.x), $(params['x']), $(params["x"]), $(params.x[*]), $(params.x[i]), $(params.x.key),
// $(inputs.params.x), $(results.x.path), $(workspaces.x.path|bound|claim|volume),
// $(resources.inputs.x.path|url|revision|…), $(resources.outputs.x.url|path),
// $(context.taskRun.name|namespace|uid|retry-count), $(context.task.name), $(context.pipelineRun.name),
// $(steps.NAME.exitCode.path), $(step.results.R.path), $(step.artifacts.path), $(artifacts.path) (see
// artifacts.go) and $(credentials.path) are replaced in images, commands, args (an element
// that is exactly an array param expands to its elements), scripts, env values and valueFrom names, envFrom
// names, workingDir, volume mounts, sidecars and the Task's volumes (names, Secret, ConfigMap and PVC
// names). Pipelines add $(tasks.T.results.R), $(tasks.T.status), $(tasks.status),
// $(context.pipelineRun.name|namespace|uid), $(context.pipeline.name) and $(workspaces.x.bound).
// Replacement is single-pass for params: a param value that itself contains "$(params…)" — webhook payloads
// reach PipelineRun params verbatim — is inserted as is and never expanded again. Unknown expressions, such
// as shell command substitutions, are left untouched. Like Tekton (which substitutes params first, then
// context, workspaces and results), a param value — a Task author's default or a value the run gives — may
// use the TaskRun's non-param variables: the seeds default a path to $(resources.inputs.repo.path), Pipelines
// pass "$(workspaces.source.path)/Dockerfile" or "$(context.task.retry-count)"; those are expanded inside the
// value once. Pipelines also have $(context.pipelineTask.retries), and Pipeline results may use
// $(finally.T.results.R).
//
// Workspace bindings (subPath, PVC claimName, Secret and ConfigMap names, projected sources, CSI
// attributes) and a Task's workspaces[].mountPath take params and context (workspacevars.go); an
// embedded taskSpec gets the Pipeline's own variables — earlier tasks' results, which order the task
// after them, and $(context.pipelineRun…|pipeline.name) — before its TaskRun is made (embedded.go). A
// $(params.x) the Task does not declare and the run does not give fails the TaskRun naming it
// (paramcheck.go); a value outside a param's enum fails it with InvalidParamValue.
//
// # Run settings
//
// podtemplate.go carries every pod template field onto the Pod and merges taskRunSpecs[].podTemplate
// over taskRunTemplate.podTemplate (and every run's over config-defaults' default-pod-template) by
// Tekton's rule; computeresources.go applies stepSpecs, sidecarSpecs and task-level computeResources as
// Tekton does; runmeta.go copies a referenced Task's or Pipeline's labels and annotations onto the run
// (the run's win) and leaves runs whose spec.managedBy names another controller alone; a TaskRun with
// spec.status TaskRunPending waits (reason TaskRunPending). Package runconfig reads and watches the
// config-defaults and feature-flags ConfigMaps of Options.ConfigNamespace (defaults.go applies them in
// memory, as Tekton's defaulting webhook would; affinity.go is coscheduling: a pod affinity on a shared
// label in place of Tekton's affinity-assistant StatefulSet).
//
// # Runs
//
// A matrixed pipeline task (matrix.go) fans out to one TaskRun per combination of its matrix params,
// named PIPELINERUN-TASK-I like Tekton's, at most Options.MaxMatrixCombinations (Tekton's 256); its string
// results reach later tasks as arrays. Pipeline tasks' when expressions may be cel expressions (when.go),
// evaluated with cel-go after variables are substituted. A pipeline task running a Pipeline
// (pipelineSpec/pipelineRef) is refused.
//
// TaskRuns of a PipelineRun are named PIPELINERUN-TASK (hashed when longer than 63 characters), so a
// restarted executor finds, rather than repeats, what it made: AlreadyExists means adopt. Pods are named
// TASKRUN-pod, then TASKRUN-pod-retryN for each retry. On timeout or cancel the Pod is stopped but kept
// (its activeDeadlineSeconds is lowered to the time it has run, so the kubelet kills it and its logs stay
// readable) and the run is marked failed at once. Reads come from the manager's informer cache (Pods are
// cached only when labelled tekton.dev/taskRun: see CacheOptions); nothing polls —
// reconciles are triggered by watches on owned TaskRuns and Pods and requeued only for timeouts.
// Secrets are read uncached, only when a Pod is built.
package executor
