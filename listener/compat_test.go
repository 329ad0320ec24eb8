package listener_test

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// refusedRow is a row of docs/compatibility.md refused because hookrun's schema lacks the field.
type refusedRow struct {
	apiVersion, kind, path string
}

func refusedRows(t *testing.T) []refusedRow {
	t.Helper()
	f, err := os.Open("../docs/compatibility.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []refusedRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(strings.Trim(sc.Text(), "|"), " | ")
		if len(cells) != 4 || strings.TrimSpace(cells[2]) != "refused" || !strings.Contains(cells[3], "not in hookrun's schema") {
			continue
		}
		gv, kind, _ := strings.Cut(strings.TrimSpace(cells[0]), " ")
		out = append(out, refusedRow{apiVersion: gv, kind: kind, path: strings.Trim(strings.TrimSpace(cells[1]), "`")})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// objectWith builds a minimal object of the row's kind with the row's field set, and the field's path as
// the API server spells it in errors ([] becomes [0]).
func objectWith(r refusedRow, name string) (*unstructured.Unstructured, string) {
	obj := map[string]any{"apiVersion": r.apiVersion, "kind": r.kind, "metadata": map[string]any{"name": name}}
	cur := obj
	segs := strings.Split(r.path, ".")
	var apiPath []string
	for i, seg := range segs {
		key, list := strings.CutSuffix(seg, "[]")
		if i == len(segs)-1 {
			cur[key] = map[string]any{}
			apiPath = append(apiPath, key)
			break
		}
		next, ok := cur[key].(map[string]any)
		if !ok {
			next = map[string]any{}
		}
		if list {
			cur[key] = []any{next}
			apiPath = append(apiPath, key+"["+strconv.Itoa(0)+"]")
		} else {
			cur[key] = next
			apiPath = append(apiPath, key)
		}
		cur = next
	}
	return &unstructured.Unstructured{Object: obj}, strings.Join(apiPath, ".")
}

// TestRefusedFieldsNamed: every field docs/compatibility.md lists as refused for lack of a schema entry is
// refused by the API server under strict field validation (what the listener and kubectl use), with its
// path in the error, instead of being pruned silently.
func TestRefusedFieldsNamed(t *testing.T) {
	rows := refusedRows(t)
	if len(rows) == 0 {
		t.Skip("docs/compatibility.md lists no field refused for lack of a schema entry")
	}
	ns := env.Namespace(t)
	for i, r := range rows {
		t.Run(r.apiVersion+" "+r.kind+" "+r.path, func(t *testing.T) {
			obj, path := objectWith(r, "refused-"+strconv.Itoa(i))
			obj.SetNamespace(ns)
			err := env.Client.Create(context.Background(), obj, client.FieldValidation("Strict"))
			if err == nil {
				t.Fatalf("created with %s: the schema has the field; update docs/compatibility.md (make compat-docs)", path)
			}
			if !strings.Contains(err.Error(), `unknown field "`+path+`"`) {
				t.Errorf("the error does not name %s: %v", path, err)
			}
		})
	}
}
