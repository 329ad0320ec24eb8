package listener

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/interceptors"
)

// TestLegacyWebhookObjectRef: an objectRef without namespace calls the Service in the trigger's namespace
// (it was http://NAME..svc/); one naming a namespace keeps it; a reference to something else is refused.
func TestLegacyWebhookObjectRef(t *testing.T) {
	cases := []struct {
		ref  corev1.ObjectReference
		want string // in the message of a call that cannot reach it, or of the refusal
	}{
		{corev1.ObjectReference{Name: "hook-svc"}, "http://hook-svc.team-a.svc/"},
		{corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Name: "hook-svc", Namespace: "other"}, "http://hook-svc.other.svc/"},
		{corev1.ObjectReference{Kind: "Deployment", APIVersion: "apps/v1", Name: "x"}, "is not a v1 Service"},
	}
	for _, c := range cases {
		ref := c.ref
		ic, err := legacyWebhook("team-a", &triggersv1beta1.WebhookInterceptor{ObjectRef: &ref}, interceptors.Options{Timeout: 2 * time.Second})
		if err != nil {
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: %v", ref, err)
			}
			continue
		}
		resp := ic.Process(context.Background(), &interceptors.Request{Body: []byte(`{}`)})
		if resp.Continue || !strings.Contains(resp.Message, c.want) {
			t.Errorf("%+v: %+v, want a failure naming %s", ref, resp, c.want)
		}
	}
}
