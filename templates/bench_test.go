package templates

import (
	"testing"
)

func BenchmarkRender(b *testing.B) {
	c, err := Compile(pipelineRunTemplate(b))
	if err != nil {
		b.Fatal(err)
	}
	values := pushValues()
	opts := Options{
		UID:       "x7k2p",
		Namespace: "ci",
		Labels: map[string]string{
			"triggers.tekton.dev/eventlistener":    "github",
			"triggers.tekton.dev/trigger":          "push",
			"triggers.tekton.dev/triggers-eventid": "ev-1",
		},
		NameSeed: "72d3162e-cc78-11e3-81ab-4c9367dc0958/push",
	}
	if _, err := c.Render(values, nil, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Render(values, nil, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	t := pipelineRunTemplate(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(t); err != nil {
			b.Fatal(err)
		}
	}
}
