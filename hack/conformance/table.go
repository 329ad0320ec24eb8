package conformance

import (
	"bufio"
	"fmt"
	"sort"
	"strings"
)

// Statuses of a row of docs/compatibility.md.
const (
	Implemented = "implemented" // hookrun's types have the field
	Refused     = "refused"     // hookrun answers an error naming the field (decided by hand, with a reason)
	Ignored     = "ignored"     // accepted and deliberately without effect (decided by hand, with a reason)
	Undecided   = "undecided"   // Tekton has it, hookrun does not, nobody decided yet: the test fails
)

// NotInSchema starts the reason of a field refused because hookrun's types lack it (the API server's
// strict field validation then names it). When the field appears in hookrun's types, regeneration makes
// the row implemented; a reason without this phrase (refused by hookrun's own check although the types
// carry the field) is kept.
const NotInSchema = "not in hookrun's schema"

// Row is one line of the compatibility table.
type Row struct {
	Kind, Path, Status, Reason string
}

func (r Row) key() string { return r.Kind + "\x00" + r.Path }

// Decisions are the hand-written rows (refused or ignored, and reasons given to implemented rows) read from
// the current table, by kind and path.
type Decisions map[string]Row

// ParseTable reads the rows of a compatibility table written by Render.
func ParseTable(doc string) (Decisions, error) {
	d := Decisions{}
	sc := bufio.NewScanner(strings.NewReader(doc))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "| ") || strings.HasPrefix(text, "| Kind ") {
			continue
		}
		cells := strings.Split(strings.Trim(text, "|"), " | ")
		if len(cells) != 4 {
			return nil, fmt.Errorf("line %d: want 4 cells (kind | field | status | reason), have %d", line, len(cells))
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		r := Row{Kind: cells[0], Path: strings.Trim(cells[1], "`"), Status: cells[2], Reason: strings.ReplaceAll(cells[3], `\|`, "|")}
		switch r.Status {
		case Implemented, Refused, Ignored, Undecided:
		default:
			return nil, fmt.Errorf("line %d: status %q is not one of %s, %s, %s", line, r.Status, Implemented, Refused, Ignored)
		}
		d[r.key()] = r
	}
	return d, sc.Err()
}

// Rows decides every path: a hand decision (refused/ignored with a reason) stands; otherwise a path
// hookrun's types have is implemented and one they lack is undecided.
func Rows(paths []Path, d Decisions) []Row {
	rows := make([]Row, 0, len(paths))
	for _, p := range paths {
		r := Row{Kind: p.Kind, Path: p.Path, Status: Undecided, Reason: "TODO: implement it, or refuse/ignore it with the reason"}
		if p.Present {
			r.Status, r.Reason = Implemented, p.Note
		}
		if old, ok := d[r.key()]; ok {
			switch {
			case p.Present && strings.Contains(old.Reason, NotInSchema):
				// Refused because hookrun's types lacked it, and now they have it: implemented (the
				// generated row replaces the stale decision).
			case (old.Status == Refused || old.Status == Ignored) && old.Reason != "":
				r.Status, r.Reason = old.Status, old.Reason
			case old.Status == Implemented && p.Present && old.Reason != "" && p.Note == "":
				r.Reason = old.Reason
			}
		}
		rows = append(rows, r)
	}
	order := map[string]int{}
	for _, p := range paths {
		if _, ok := order[p.Kind]; !ok {
			order[p.Kind] = len(order)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Kind != rows[j].Kind {
			return order[rows[i].Kind] < order[rows[j].Kind]
		}
		return rows[i].Path < rows[j].Path
	})
	return rows
}

// Header is the text above the table.
const Header = `# Tekton compatibility, field by field

Every JSON field path of Tekton's kinds, as Tekton's own Go types declare them, and what hookrun does with
it. The table is generated and checked by the conformance test (` + "`hack/conformance`" + `, its own Go module),
which reads Tekton's API types at the releases below and walks them and hookrun's types (` + "`api/pipeline/v1`" + `,
` + "`api/triggers/v1beta1`" + `) by reflection. A Tekton field hookrun's types lack fails the test until someone
decides it here.

- Tekton Pipelines: ` + "`github.com/tektoncd/pipeline %s`" + `
- Tekton Triggers: ` + "`github.com/tektoncd/triggers %s`" + `

Regenerate with ` + "`make compat-docs`" + ` (the same as ` + "`cd hack/conformance && go test -run TestConformance . -update`" + `).
Regeneration keeps the Status and Reason written by hand for ` + "`refused`" + ` and ` + "`ignored`" + ` rows; a new
Tekton field comes out as ` + "`undecided`" + `, which fails the test: implement it (add it to hookrun's types),
or set its Status to ` + "`refused`" + ` (hookrun answers an error naming the field) or ` + "`ignored`" + ` (accepted,
deliberately without effect) and write why. A row may also be marked refused while hookrun's types have the
field (hookrun's validation refuses it).

Statuses: **implemented**: hookrun's types carry the field (its behaviour is tested in the package that
owns it; see the README's "Tekton compatibility"). **refused**: the field is rejected with an error naming its
path (the API server's strict field validation, or hookrun's own check; ` + "`listener`'s `TestRefusedFieldsNamed`" + `
creates every row refused as "` + NotInSchema + `" against a real API server and checks the error names the
path). **ignored**: accepted, no effect.

Each Tekton struct type is listed once per hookrun type it meets; a row saying "fields as at X" has the
same fields as X. Paths below a field hookrun lacks are not listed. ` + "`[]`" + ` is a list item, ` + "`{}`" + ` a map value.
`

// Render writes the whole document.
func Render(rows []Row, pipelineVersion, triggersVersion string) string {
	var b strings.Builder
	fmt.Fprintf(&b, Header, pipelineVersion, triggersVersion)
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
	}
	fmt.Fprintf(&b, "\nTotals: %d fields; %d implemented, %d refused, %d ignored, %d undecided.\n",
		len(rows), counts[Implemented], counts[Refused], counts[Ignored], counts[Undecided])
	b.WriteString("\n| Kind | Field | Status | Reason |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", r.Kind, r.Path, r.Status, strings.ReplaceAll(r.Reason, "|", `\|`))
	}
	return b.String()
}
