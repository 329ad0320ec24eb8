package pac

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hookrun/hookrun/pac/match"
)

// vars are the {{name}} variables of the runs: Pipelines-as-Code's standard ones, then the Repository's
// params (a param whose filter is false is left out; the first matching param of a name wins), which it
// also keeps in c.params for on-cel-expression.
func (c *call) vars(ctx context.Context, eventType string) (map[string]string, error) {
	c.params = map[string]string{}
	ev := c.ev
	v := map[string]string{
		"revision":            ev.SHA,
		"repo_url":            ev.RepoURL,
		"repo_owner":          ev.Owner,
		"repo_name":           ev.Name,
		"source_branch":       ev.SourceBranch,
		"target_branch":       ev.TargetBranch,
		"source_url":          ev.SourceURL,
		"event_type":          eventType,
		"sender":              ev.Sender,
		"target_namespace":    c.repo.Namespace,
		"git_auth_secret":     c.gitAuthName(),
		"pull_request_number": "",
	}
	if ev.Number > 0 {
		v["pull_request_number"] = strconv.Itoa(ev.Number)
	}
	for name, list := range map[string][]string{"files.all": ev.Files.All, "files.added": ev.Files.Added,
		"files.deleted": ev.Files.Deleted, "files.modified": ev.Files.Modified, "files.renamed": ev.Files.Renamed} {
		if list == nil {
			list = []string{}
		}
		b, _ := json.Marshal(list)
		v[name] = string(b)
	}
	if ev.Kind == KindComment {
		v["trigger_comment"] = ev.Comment
	}
	seen := map[string]bool{}
	for i, p := range c.repo.Spec.Params {
		if p.Name == "" || seen[p.Name] {
			continue
		}
		if p.Filter != "" {
			ok, err := match.Eval(ctx, p.Filter, ev.matchEvent(eventType))
			if err != nil {
				return nil, fmt.Errorf("Repository spec.params[%d] (%s) filter: %w", i, p.Name, err)
			}
			if !ok {
				continue
			}
		}
		val := p.Value
		if p.SecretRef != nil && p.SecretRef.Name != "" {
			s, err := c.secretValue(ctx, c.repo.Namespace, p.SecretRef.Name, p.SecretRef.Key)
			if err != nil {
				return nil, fmt.Errorf("Repository spec.params[%d] (%s): %w", i, p.Name, err)
			}
			val = s
		}
		seen[p.Name] = true
		v[p.Name] = val
		c.params[p.Name] = val
	}
	return v, nil
}
