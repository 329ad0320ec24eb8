package pac

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/api/validate"
	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/pac/match"
	"github.com/hookrun/hookrun/runctl"
	"github.com/hookrun/hookrun/templates"
)

// run reads `.tekton/` at ref and creates the PipelineRuns that match the event as eventType. pick, when
// set, chooses runs by name instead of the annotations (/test NAME, /retest).
func (c *call) run(ctx context.Context, eventType, ref string, pick func(d Doc, name string) bool) []Result {
	files, err := c.fc.ReadDir(ctx, c.ev.Repo, ref, TektonDir)
	if err != nil {
		if forge.IsNotFound(err) {
			return []Result{c.skip(c.repo.Name, "no %s/ folder at %s", TektonDir, ref)}
		}
		return []Result{c.fail(c.repo.Name, fmt.Errorf("read %s/ at %s: %w", TektonDir, ref, err))}
	}
	if c.ev.Kind != KindPush && !c.ev.FilesKnown && c.ev.Number > 0 {
		if changed, err := c.fc.ChangedFiles(ctx, c.ev.Repo, c.ev.Number); err == nil {
			c.ev.Files = match.Files{All: changed, Modified: changed}
			c.ev.FilesKnown = true
		} else {
			c.log().Warn("pac: changed files unknown", "repo", c.ev.Repo, "number", c.ev.Number, "error", err)
		}
	}
	vars, err := c.vars(ctx, eventType)
	if err != nil {
		return []Result{c.fail(c.repo.Name, err)}
	}
	header := c.ev.matchEvent(eventType).Headers
	usesAuth := false
	for i := range files {
		usesAuth = usesAuth || gitAuthPattern.Match(files[i].Content)
	}
	docs, err := SubstituteDocs(files, func(s string) string { return Substitute(s, vars, c.ev.Body, header) })
	if err != nil {
		return []Result{c.fail(c.repo.Name, err)}
	}
	var out []Result
	var auth *gitAuth
	for _, d := range docs {
		if d.Kind != "PipelineRun" {
			continue
		}
		name := strings.TrimSuffix(d.Name, "-")
		if pick != nil && !pick(d, name) {
			continue
		}
		if usesAuth && auth == nil {
			if auth, err = c.ensureGitAuth(ctx, vars["git_auth_secret"]); err != nil {
				return []Result{c.fail(c.repo.Name, err)}
			}
		}
		out = append(out, c.one(ctx, d, docs, name, eventType, pick != nil))
	}
	if auth != nil {
		c.ownGitAuth(ctx, auth, out)
	}
	if len(out) == 0 {
		if pick != nil {
			return []Result{c.skip(c.repo.Name, "no PipelineRun of %s/ at %s is asked for", TektonDir, ref)}
		}
		return []Result{c.skip(c.repo.Name, "no PipelineRun in %s/ at %s", TektonDir, ref)}
	}
	return out
}

// one selects, builds, validates and creates one PipelineRun of `.tekton/`.
func (c *call) one(ctx context.Context, d Doc, docs []Doc, name, eventType string, picked bool) Result {
	ann := stringMap(d.Obj, "annotations")
	if !picked {
		rule, err := match.Compile(ann)
		if err != nil {
			return c.fail(name, fmt.Errorf("%s: %w", d.File, err))
		}
		me := c.ev.matchEvent(eventType)
		me.Params = c.params
		ok, why, err := rule.Match(ctx, me)
		if err != nil {
			return c.fail(name, fmt.Errorf("%s: %w", d.File, err))
		}
		if !ok {
			return c.skip(name, "%s", why)
		}
	}
	for k := range ann {
		if k == match.RemoteTask || k == match.RemotePipeline || strings.HasPrefix(k, match.RemoteTask+"-") || strings.HasPrefix(k, match.RemotePipeline+"-") {
			return c.fail(name, fmt.Errorf("%s: annotation %s asks for a remote task or pipeline (hub or URL): hookrun does not fetch "+
				"them; put the Task or Pipeline in %s/ or reference it with a resolver (taskRef.resolver)", d.File, k, TektonDir))
		}
	}
	if ns := strings.TrimSpace(ann[match.TargetNamespace]); ns != "" && ns != c.repo.Namespace {
		return c.skip(name, "%s is %q, not the Repository's namespace %s", match.TargetNamespace, ns, c.repo.Namespace)
	}
	obj, err := c.build(ctx, d, docs, name, eventType)
	if err != nil {
		return c.fail(name, fmt.Errorf("%s: %w", d.File, err))
	}
	if err := checkRun(d, obj); err != nil {
		return c.fail(name, err)
	}
	return c.create(ctx, name, obj)
}

// build makes the PipelineRun to create from a `.tekton/` document.
func (c *call) build(ctx context.Context, d Doc, docs []Doc, name, eventType string) (*unstructured.Unstructured, error) {
	obj := deepCopy(d.Obj)
	if err := Inline(obj, docs); err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: obj}
	seed := c.seed(name)
	u.SetName(templates.DeterministicName(name+"-", seed, 0))
	u.SetGenerateName("")
	u.SetNamespace(c.repo.Namespace)
	u.SetResourceVersion("")
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	ev := c.ev
	setLabel := func(k, v string) {
		if v = labelValue(v); v != "" {
			labels[k] = v
		}
	}
	setLabel(LabelRepository, c.repo.Name)
	setLabel(LabelEventType, eventType)
	setLabel(LabelSHA, ev.SHA)
	setLabel(LabelSender, ev.Sender)
	setLabel(LabelProvider, ev.Provider)
	setLabel(LabelOriginalName, name)
	setLabel(LabelURLOrg, ev.Owner)
	setLabel(LabelURLRepo, ev.Name)
	if ev.Number > 0 {
		labels[LabelPullRequest] = strconv.Itoa(ev.Number)
	}
	for k, v := range map[string]string{LabelRepository: c.repo.Name, LabelEventType: eventType, LabelSHA: ev.SHA,
		LabelSender: ev.Sender, LabelProvider: ev.Provider, LabelOriginalName: name, LabelURLOrg: ev.Owner, LabelURLRepo: ev.Name,
		AnnotationRepoURL: ev.RepoURL, AnnotationBranch: ev.TargetBranch, AnnotationSource: ev.SourceBranch,
		AnnotationTitle: ev.Title, AnnotationDelivery: shortHash(seed)} {
		if v != "" {
			annotations[k] = v
		}
	}
	if ev.Number > 0 {
		annotations[LabelPullRequest] = strconv.Itoa(ev.Number)
	}
	c.statusAnnotations(annotations, name)
	if err := c.concurrency(ctx, ann(d), name, labels, annotations); err != nil {
		return nil, err
	}
	u.SetLabels(labels)
	u.SetAnnotations(annotations)
	return u, nil
}

func ann(d Doc) map[string]string { return stringMap(d.Obj, "annotations") }

// statusAnnotations opts the run into #14's status reporting when the Repository has a token.
func (c *call) statusAnnotations(a map[string]string, name string) {
	gp := c.repo.Spec.GitProvider
	if !c.hasToken || gp == nil || gp.Secret == nil {
		return
	}
	key := gp.Secret.Key
	if key == "" {
		key = DefaultTokenKey
	}
	a[forge.AnnotationStatus] = ProviderOf(c.repo, c.ev.Provider)
	a[forge.AnnotationSecret] = gp.Secret.Name
	a[forge.AnnotationSecretKey] = key
	a[forge.AnnotationRepo] = c.ev.Repo
	a[forge.AnnotationSHA] = c.ev.SHA
	a[forge.AnnotationContext] = "hookrun/" + name
	if c.ev.SourceBranch != "" {
		a[forge.AnnotationRef] = c.ev.SourceBranch
	}
	if gp.URL != "" {
		a[forge.AnnotationAPI] = gp.URL
	}
}

// concurrency puts the run in a runctl group: cancel-in-progress: "true" cancels older runs of the same
// PipelineRun for the same pull request or branch; concurrency_limit: 1 queues the Repository's runs.
func (c *call) concurrency(ctx context.Context, docAnn map[string]string, name string, labels, annotations map[string]string) error {
	var key string
	mode := runctl.Queue
	switch {
	case strings.TrimSpace(docAnn[match.CancelInProgress]) == "true":
		target := "branch/" + c.ev.SourceBranch
		if c.ev.Number > 0 {
			target = "pr/" + strconv.Itoa(c.ev.Number)
		}
		key, mode = "pac/"+c.repo.Namespace+"/"+c.repo.Name+"/"+name+"/"+target, runctl.CancelInProgress
	case c.repo.Spec.ConcurrencyLimit != nil && *c.repo.Spec.ConcurrencyLimit == 1:
		key = "pac/" + c.repo.Namespace + "/" + c.repo.Name
	default:
		return nil
	}
	p, err := runctl.Parse(map[string]string{runctl.AnnotationGroup: strconv.Quote(key), runctl.AnnotationPolicy: string(mode)})
	if err != nil {
		return err
	}
	l, a := p.Stamp(key, false)
	for k, v := range l {
		labels[k] = v
	}
	for k, v := range a {
		annotations[k] = v
	}
	annotations[runctl.AnnotationQueuedAt] = c.now().UTC().Format(time.RFC3339Nano)
	return nil
}

// checkRun validates the PipelineRun as `hookrun validate` would.
func checkRun(d Doc, u *unstructured.Unstructured) error {
	js, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	o, probs := load.Document(d.File, d.Index, js)
	if o != nil {
		probs = append(probs, validate.Objects([]load.Object{*o})...)
	}
	if len(probs) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(probs))
	for _, p := range probs {
		// Matching annotations were decided on already; an unknown on-… annotation is ignored at run time,
		// as Pipelines-as-Code does (`hookrun validate` reports it).
		if strings.HasPrefix(p.Field, `metadata.annotations["`+match.Prefix) {
			continue
		}
		msgs = append(msgs, p.String())
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid: %s", strings.Join(msgs, "; "))
}

// create creates the run; a run of the same name made by the same delivery counts as created.
func (c *call) create(ctx context.Context, name string, u *unstructured.Unstructured) Result {
	res := Result{Name: name, Namespace: c.repo.Namespace}
	run := Run{APIVersion: u.GetAPIVersion(), Namespace: u.GetNamespace(), Name: u.GetName()}
	err := c.Client.Create(ctx, u, client.FieldValidation(metav1.FieldValidationStrict))
	if apierrors.IsAlreadyExists(err) {
		existing := &unstructured.Unstructured{}
		existing.SetGroupVersionKind(u.GroupVersionKind())
		if gerr := c.Client.Get(ctx, client.ObjectKeyFromObject(u), existing); gerr != nil {
			return c.fail(name, fmt.Errorf("PipelineRun %s exists and cannot be read: %w", u.GetName(), gerr))
		}
		if existing.GetAnnotations()[AnnotationDelivery] != u.GetAnnotations()[AnnotationDelivery] {
			return c.fail(name, fmt.Errorf("PipelineRun %s/%s already exists and was not made by this delivery", u.GetNamespace(), u.GetName()))
		}
		res.Status, res.Duplicate, res.Runs = StatusCreated, true, []Run{run}
		res.Reason = "already created by an earlier delivery of the same event"
		return res
	}
	if err != nil {
		res = c.fail(name, fmt.Errorf("create PipelineRun: %w", err))
		res.Unavailable = apierrors.IsServerTimeout(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err) ||
			apierrors.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded)
		return res
	}
	res.Status, res.Runs = StatusCreated, []Run{run}
	c.log().Info("pac: PipelineRun created", "repository", c.repo.Namespace+"/"+c.repo.Name, "pipelinerun", u.GetName(),
		"from", name, "sha", c.ev.SHA, "event", c.ev.Kind)
	return res
}

// stringMap reads metadata.<field> as strings.
func stringMap(obj map[string]any, field string) map[string]string {
	md, _ := obj["metadata"].(map[string]any)
	m, _ := md[field].(map[string]any)
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// labelValue makes s a valid label value: characters outside [A-Za-z0-9._-] become "-", cut to 63,
// trimmed to start and end alphanumeric ("" if nothing is left).
func labelValue(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			b[i] = '-'
		}
	}
	if len(b) > validation.LabelValueMaxLength {
		b = b[:validation.LabelValueMaxLength]
	}
	return strings.Trim(string(b), "-_.")
}
