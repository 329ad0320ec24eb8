package runconfig

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name               string
		defaults, features map[string]string
		want               string // JSON of the Config
		problems           []string
	}{{
		name: "neither ConfigMap: Tekton's defaults",
		want: `{"Timeout":3600000000000,"ServiceAccount":"default","ManagedBy":"","PodTemplate":null,"WorkspaceBinding":null,"MaxMatrixCombinations":0,"Coschedule":"workspaces"}`,
	}, {
		name: "honoured keys",
		defaults: map[string]string{
			"_example":                              "ignored: Tekton's documentation block",
			"default-timeout-minutes":               "20",
			"default-service-account":               "builder",
			"default-managed-by-label-value":        "tekton-pipelines",
			"default-pod-template":                  "nodeSelector:\n  pool: build\ndnsPolicy: None\ndnsConfig:\n  nameservers: [10.0.0.10]\n",
			"default-task-run-workspace-binding":    "emptyDir: {}\n",
			"default-max-matrix-combinations-count": "16",
		},
		features: map[string]string{"coschedule": "pipelineruns"},
		want: `{"Timeout":1200000000000,"ServiceAccount":"builder","ManagedBy":"tekton-pipelines",` +
			`"PodTemplate":{"nodeSelector":{"pool":"build"},"dnsPolicy":"None","dnsConfig":{"nameservers":["10.0.0.10"]}},` +
			`"WorkspaceBinding":{"name":"","emptyDir":{}},"MaxMatrixCombinations":16,"Coschedule":"pipelineruns"}`,
	}, {
		name:     "no timeout; disable-affinity-assistant without coschedule",
		defaults: map[string]string{"default-timeout-minutes": "0"},
		features: map[string]string{"disable-affinity-assistant": "true"},
		want:     `{"Timeout":0,"ServiceAccount":"default","ManagedBy":"","PodTemplate":null,"WorkspaceBinding":null,"MaxMatrixCombinations":0,"Coschedule":"disabled"}`,
	}, {
		name:     "coschedule wins over disable-affinity-assistant",
		features: map[string]string{"disable-affinity-assistant": "true", "coschedule": "isolate-pipelinerun"},
		want:     `{"Timeout":3600000000000,"ServiceAccount":"default","ManagedBy":"","PodTemplate":null,"WorkspaceBinding":null,"MaxMatrixCombinations":0,"Coschedule":"isolate-pipelinerun"}`,
	}, {
		name: "bad values and keys not honoured are problems, the rest applies",
		defaults: map[string]string{
			"default-timeout-minutes":   "soon",
			"default-service-account":   "ci",
			"default-pod-template":      "nodeSelectr: {}\n",
			"default-cloud-events-sink": "http://sink",
			"defualt-timeout":           "5",
		},
		features: map[string]string{"coschedule": "sometimes", "enable-api-fields": "alpha"},
		want:     `{"Timeout":3600000000000,"ServiceAccount":"ci","ManagedBy":"","PodTemplate":null,"WorkspaceBinding":null,"MaxMatrixCombinations":0,"Coschedule":"workspaces"}`,
		problems: []string{
			`config-defaults: key "default-cloud-events-sink" is not honoured: hookrun sends no run CloudEvents`,
			`config-defaults: key "default-pod-template" is not a pod template hookrun can read: error unmarshaling JSON: while decoding JSON: json: unknown field "nodeSelectr"`,
			`config-defaults: key "default-timeout-minutes" has value "soon": want a whole number of minutes (0: no timeout)`,
			`config-defaults: key "defualt-timeout" is not a key hookrun (or Tekton) knows`,
			`feature-flags: key "coschedule" has value "sometimes": want workspaces, pipelineruns, isolate-pipelinerun or disabled`,
			`feature-flags: key "enable-api-fields" is not honoured by hookrun (it is read only for coschedule and disable-affinity-assistant; see the README)`,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := Parse(tc.defaults, tc.features)
			got, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("config\n got %s\nwant %s", got, tc.want)
			}
			var texts []string
			for _, p := range problems {
				texts = append(texts, p.String())
			}
			g, _ := json.MarshalIndent(texts, "", " ")
			w, _ := json.MarshalIndent(tc.problems, "", " ")
			if string(g) != string(w) {
				t.Errorf("problems\n got %s\nwant %s", g, w)
			}
		})
	}
}

func TestStore(t *testing.T) {
	s := NewStore()
	if got := s.Get(); got.Timeout != time.Hour || got.ServiceAccount != "default" {
		t.Fatalf("new store = %+v", got)
	}
	c := Default()
	c.ServiceAccount = "x"
	s.Set(c)
	if s.Get().ServiceAccount != "x" {
		t.Error("Set not seen")
	}
}
