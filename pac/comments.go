package pac

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/pac/match"
	"github.com/hookrun/hookrun/runctl"
)

// Comment commands.
const (
	CmdRetest   = "retest"
	CmdTest     = "test"
	CmdCancel   = "cancel"
	CmdOKToTest = "ok-to-test"
)

// Command is one /command line of a comment.
type Command struct {
	Name string // CmdRetest, CmdTest, CmdCancel, CmdOKToTest
	Arg  string // the PipelineRun named, if any
}

func (c Command) String() string {
	if c.Arg == "" {
		return "/" + c.Name
	}
	return "/" + c.Name + " " + c.Arg
}

// maxCommands bounds the commands one comment may hold.
const maxCommands = 10

// ParseCommands reads the commands of a comment: each line that starts with /retest, /test, /cancel or
// /ok-to-test (case-insensitive, after leading spaces), with an optional PipelineRun name. Other lines,
// quoted lines ("> /retest") and unknown commands are ignored. The same command is kept once.
func ParseCommands(comment string) []Command {
	var out []Command
	for _, line := range strings.Split(comment, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "/") {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(f[0], "/"))
		switch name {
		case CmdRetest, CmdTest, CmdCancel, CmdOKToTest:
		default:
			continue
		}
		cmd := Command{Name: name}
		if len(f) > 1 && name != CmdOKToTest && labelValue(f[1]) == f[1] {
			cmd.Arg = f[1]
		}
		if !slices.Contains(out, cmd) {
			out = append(out, cmd)
		}
		if len(out) == maxCommands {
			break
		}
	}
	return out
}

// comment runs the commands of a pull/merge request comment.
func (c *call) comment(ctx context.Context) []Result {
	cmds := ParseCommands(c.ev.Comment)
	if err := c.completePR(ctx); err != nil {
		return []Result{c.fail(c.repo.Name, err)}
	}
	ok, err := c.allowed(ctx, c.ev.SenderID, c.ev.Sender)
	if err != nil {
		return []Result{c.fail(c.repo.Name, fmt.Errorf("is %s allowed: %w", c.ev.Sender, err))}
	}
	if len(cmds) == 0 {
		// Not a command: the PipelineRuns whose on-comment matches it run, for those allowed; others' chatter
		// gets no reply.
		if !ok {
			return []Result{c.skip(c.repo.Name, "the comment holds no command (/retest, /test NAME, /cancel [NAME], /ok-to-test)")}
		}
		ref, err := c.definitionsRef(ctx)
		if err != nil {
			return []Result{c.fail(c.repo.Name, err)}
		}
		return c.run(ctx, KindPullRequest, ref, func(d Doc, _ string) bool {
			return match.CommentMatches(stringMap(d.Obj, "annotations"), c.ev.Comment)
		})
	}
	if !ok {
		reason := fmt.Sprintf("@%s is not allowed to run %s: it takes write access to the repository or a place in OWNERS (approvers, reviewers) on %s",
			c.ev.Sender, cmds[0], c.baseBranch())
		res := c.skip(cmds[0].String(), "%s", reason)
		if err := c.fc.Comment(ctx, c.ev.Repo, c.ev.Number, reason+"; nothing was run."); err != nil {
			res.Reason += " (the reply could not be posted: " + err.Error() + ")"
		}
		return []Result{res}
	}
	var out []Result
	for _, cmd := range cmds {
		out = append(out, c.command(ctx, cmd)...)
	}
	return out
}

func (c *call) command(ctx context.Context, cmd Command) []Result {
	ref, err := c.definitionsRef(ctx)
	if err != nil {
		return []Result{c.fail(cmd.String(), err)}
	}
	switch cmd.Name {
	case CmdOKToTest:
		res := c.run(ctx, KindPullRequest, ref, nil)
		if c.hasToken {
			_ = c.fc.Post(ctx, forge.Status{Repo: c.ev.Repo, SHA: c.ev.SHA, Ref: c.ev.SourceBranch, Context: OKToTestContext,
				State: forge.StateSuccess, Description: "/ok-to-test by " + c.ev.Sender})
		}
		return res
	case CmdTest:
		if cmd.Arg == "" {
			return []Result{c.skip(cmd.String(), "/test needs the name of a PipelineRun of %s/ (/retest runs the failed ones)", TektonDir)}
		}
		return c.run(ctx, KindPullRequest, ref, func(_ Doc, n string) bool { return n == cmd.Arg })
	case CmdRetest:
		if cmd.Arg != "" {
			return c.run(ctx, KindPullRequest, ref, func(_ Doc, n string) bool { return n == cmd.Arg })
		}
		runs, err := c.prRuns(ctx, true)
		if err != nil {
			return []Result{c.fail(cmd.String(), err)}
		}
		if len(runs) == 0 {
			return c.run(ctx, KindPullRequest, ref, nil)
		}
		failed := map[string]bool{}
		for _, pr := range runs {
			n := pr.Labels[LabelOriginalName]
			if cond := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); cond != nil && cond.Status == corev1.ConditionFalse {
				failed[n] = true
			}
		}
		for _, pr := range runs { // a later success of the same PipelineRun wins
			if cond := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); cond != nil && cond.Status == corev1.ConditionTrue {
				delete(failed, pr.Labels[LabelOriginalName])
			}
		}
		if len(failed) == 0 {
			return []Result{c.skip(cmd.String(), "no failed PipelineRun for %s to retest", shortSHA(c.ev.SHA))}
		}
		return c.run(ctx, KindPullRequest, ref, func(_ Doc, n string) bool { return failed[n] })
	case CmdCancel:
		return []Result{c.cancel(ctx, cmd)}
	}
	return nil
}

// completePR fills what a comment event does not say about its pull request (GitHub's issue_comment).
func (c *call) completePR(ctx context.Context) error {
	if c.ev.SHA != "" && c.ev.TargetBranch != "" {
		return nil
	}
	pr, err := c.fc.PullRequest(ctx, c.ev.Repo, c.ev.Number)
	if err != nil {
		return err
	}
	c.ev.SHA, c.ev.SourceBranch, c.ev.TargetBranch, c.ev.Author, c.ev.Fork = pr.HeadSHA, pr.HeadRef, pr.BaseRef, pr.Author, pr.Fork
	if pr.Title != "" {
		c.ev.Title = pr.Title
	}
	if pr.HeadURL != "" {
		c.ev.SourceURL = pr.HeadURL
	}
	return nil
}

// definitionsRef is where a pull request's `.tekton/` is read: its head, unless it comes from a fork
// whose author may not push, then its base branch.
func (c *call) definitionsRef(ctx context.Context) (string, error) {
	if !c.ev.Fork {
		return c.ev.SHA, nil
	}
	ok, err := c.allowed(ctx, c.ev.Author, c.ev.Author)
	if err != nil {
		return "", fmt.Errorf("is the author allowed: %w", err)
	}
	if ok {
		return c.ev.SHA, nil
	}
	return c.baseBranch(), nil
}

func (c *call) baseBranch() string {
	if c.ev.TargetBranch != "" {
		return c.ev.TargetBranch
	}
	return c.ev.DefaultBranch
}

// allowed: user (GitHub login, GitLab user id) has write access, or login is an approver or reviewer in
// the base branch's OWNERS file.
func (c *call) allowed(ctx context.Context, user, login string) (bool, error) {
	if user != "" {
		ok, err := c.fc.CanWrite(ctx, c.ev.Repo, user)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	if login == "" {
		return false, nil
	}
	data, err := c.fc.ReadFile(ctx, c.ev.Repo, c.baseBranch(), "OWNERS")
	if forge.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read OWNERS: %w", err)
	}
	return slices.Contains(ParseOwners(data), strings.ToLower(login)), nil
}

// ParseOwners returns the lower-cased approvers and reviewers of an OWNERS file (Kubernetes' format);
// anything else in it is ignored, and a file that does not parse lists nobody.
func ParseOwners(data []byte) []string {
	var o struct {
		Approvers []string `json:"approvers"`
		Reviewers []string `json:"reviewers"`
	}
	if err := yaml.Unmarshal(data, &o); err != nil {
		return nil
	}
	var out []string
	for _, u := range append(o.Approvers, o.Reviewers...) {
		if u = strings.ToLower(strings.TrimSpace(u)); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// prRuns lists the Repository's PipelineRuns of this pull request (at its head when atHead).
func (c *call) prRuns(ctx context.Context, atHead bool) ([]pipelinev1.PipelineRun, error) {
	sel := client.MatchingLabels{LabelRepository: labelValue(c.repo.Name), LabelPullRequest: strconv.Itoa(c.ev.Number)}
	if atHead {
		sel[LabelSHA] = labelValue(c.ev.SHA)
	}
	var list pipelinev1.PipelineRunList
	if err := c.Client.List(ctx, &list, client.InNamespace(c.repo.Namespace), sel); err != nil {
		return nil, fmt.Errorf("list the pull request's PipelineRuns: %w", err)
	}
	return list.Items, nil
}

// cancel sets spec.status Cancelled on the pull request's unfinished runs (of one PipelineRun of
// `.tekton/` when named).
func (c *call) cancel(ctx context.Context, cmd Command) Result {
	return c.cancelRuns(ctx, cmd.String(), func(pr *pipelinev1.PipelineRun) bool {
		return cmd.Arg == "" || pr.Labels[LabelOriginalName] == cmd.Arg
	})
}

// cancelOnClose cancels a closed or merged pull request's unfinished runs of PipelineRuns annotated
// cancel-in-progress, as Pipelines-as-Code does.
func (c *call) cancelOnClose(ctx context.Context) Result {
	return c.cancelRuns(ctx, "closed", func(pr *pipelinev1.PipelineRun) bool {
		return pr.Annotations[runctl.AnnotationRunPolicy] == string(runctl.CancelInProgress)
	})
}

func (c *call) cancelRuns(ctx context.Context, name string, which func(*pipelinev1.PipelineRun) bool) Result {
	runs, err := c.prRuns(ctx, false)
	if err != nil {
		return c.fail(name, err)
	}
	res := Result{Name: name, Namespace: c.repo.Namespace, Status: StatusSkipped}
	for i := range runs {
		pr := &runs[i]
		if !which(pr) {
			continue
		}
		if cond := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); cond != nil && cond.Status != corev1.ConditionUnknown {
			continue
		}
		if pr.Spec.Status == pipelinev1.PipelineRunSpecStatusCancelled {
			continue
		}
		patch := client.MergeFrom(pr.DeepCopy())
		pr.Spec.Status = pipelinev1.PipelineRunSpecStatusCancelled
		if err := c.Client.Patch(ctx, pr, patch); err != nil {
			return c.fail(name, fmt.Errorf("cancel %s: %w", pr.Name, err))
		}
		res.Cancelled = append(res.Cancelled, pr.Namespace+"/"+pr.Name)
		res.Runs = append(res.Runs, Run{APIVersion: pipelinev1.GroupVersion.String(), Namespace: pr.Namespace, Name: pr.Name})
	}
	if len(res.Cancelled) == 0 {
		res.Reason = "no running PipelineRun of this pull request to cancel"
		return res
	}
	res.Status, res.Reason = StatusCreated, fmt.Sprintf("cancelled %d PipelineRun(s)", len(res.Cancelled))
	return res
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}
