package dashboard

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// Pages: each is layout.html plus its own file, which defines "title", "main" (the whole page body)
// and "live" (the part replaced when the server says it changed).
var pageFiles = []string{"runs", "run", "deliveries", "deliveries-index"}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, p := range pageFiles {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", p, err)
		}
		pages[p] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"duration": func(start, end time.Time) string {
		if start.IsZero() {
			return "–"
		}
		if end.IsZero() {
			end = time.Now()
		}
		return humanDuration(end.Sub(start))
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return humanDuration(time.Since(t)) + " ago"
	},
	"iso": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"short": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return s[:n]
	},
	"trimRepo": func(s string) string {
		s = strings.TrimSuffix(s, ".git")
		for _, p := range []string{"https://", "http://", "git@", "ssh://", "file://"} {
			s = strings.TrimPrefix(s, p)
		}
		return s
	},
	"add": func(a, b int) int { return a + b },
}

// humanDuration prints <1s, 12s, 3m 04s, 2h 05m.
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return "<1s" // Kubernetes records times to the second
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// pageData is what every page template receives.
type pageData struct {
	Title   string
	Nav     string // runs | deliveries
	Topic   string // live topic for /live
	Actions bool
	Data    any
}

// render writes page p: the whole page, or with ?fragment=1 only its "live" block.
func (s *Server) render(w http.ResponseWriter, r *http.Request, p string, d pageData) {
	d.Actions = s.opts.AllowActions
	name := "layout.html"
	if r.URL.Query().Get("fragment") == "1" {
		name = "live"
	}
	var b bytes.Buffer
	if err := s.pages[p].ExecuteTemplate(&b, name, d); err != nil {
		s.log.Error("render", "page", p, "error", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}
