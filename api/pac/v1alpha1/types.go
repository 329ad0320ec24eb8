// Package v1alpha1 holds pipelinesascode.tekton.dev/v1alpha1 Repository, Pipelines-as-Code's resource that
// says which git repository's deliveries run the PipelineRuns kept in its `.tekton/` folder (package pac),
// with which forge token and webhook secret, and which params the runs see as {{name}}.
//
// +kubebuilder:object:generate=true
// +groupName=pipelinesascode.tekton.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is pipelinesascode.tekton.dev/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: "pipelinesascode.tekton.dev", Version: "v1alpha1"}
	// SchemeBuilder registers Repository.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds Repository to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Git provider types (spec.git_provider.type). Empty: told from the webhook's headers.
const (
	ProviderGitHub    = "github"
	ProviderGitLab    = "gitlab"
	ProviderBitbucket = "bitbucket-cloud"
)

// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=repo,categories=tekton;pipelines-as-code
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`

// Repository ties a git repository to the namespace its `.tekton/` PipelineRuns run in.
type Repository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec RepositorySpec `json:"spec"`
}

// RepositorySpec is a Repository's configuration (Pipelines-as-Code's field names).
type RepositorySpec struct {
	// URL is the repository's web URL, e.g. https://github.com/owner/repo: deliveries of this repository
	// are handled by this Repository.
	URL string `json:"url"`
	// GitProvider says how to reach the forge's API and how webhooks are signed.
	// +optional
	GitProvider *GitProvider `json:"git_provider,omitempty"`
	// Params are extra {{name}} variables of the runs.
	// +optional
	Params []Param `json:"params,omitempty"`
	// ConcurrencyLimit, when 1, queues this repository's runs so one runs at a time.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ConcurrencyLimit *int `json:"concurrency_limit,omitempty"`
	// Settings tune how `.tekton/` is read.
	// +optional
	Settings *Settings `json:"settings,omitempty"`
}

// GitProvider is the forge API and its credentials.
type GitProvider struct {
	// URL is the API base URL (GitHub Enterprise https://HOST/api/v3/, self-managed GitLab https://HOST);
	// empty: told from spec.url (github.com, gitlab.com).
	// +optional
	URL string `json:"url,omitempty"`
	// User is the username (Bitbucket); unused on GitHub and GitLab.
	// +optional
	User string `json:"user,omitempty"`
	// Secret holds the API token: `.tekton/` is read with it and statuses are reported with it.
	// +optional
	Secret *SecretRef `json:"secret,omitempty"`
	// WebhookSecret holds the webhook secret deliveries are verified with.
	// +optional
	WebhookSecret *SecretRef `json:"webhook_secret,omitempty"`
	// Type is github, gitlab or bitbucket-cloud; empty: told from the delivery's headers.
	// +optional
	Type string `json:"type,omitempty"`
}

// SecretRef names a key of a Secret in the Repository's namespace.
type SecretRef struct {
	Name string `json:"name"`
	// Key defaults to "provider.token" for secret and "webhook.secret" for webhook_secret.
	// +optional
	Key string `json:"key,omitempty"`
}

// Param is one {{name}} variable: a value, or a Secret's key, used when filter (CEL over the event) is
// true or absent.
type Param struct {
	Name string `json:"name"`
	// +optional
	Value string `json:"value,omitempty"`
	// +optional
	SecretRef *SecretRef `json:"secret_ref,omitempty"`
	// +optional
	Filter string `json:"filter,omitempty"`
}

// Settings are per-repository options.
type Settings struct {
	// PipelineRunProvenance is where `.tekton/` is read: "source" (the event's head, default) or
	// "default_branch" (the repository's default branch).
	// +optional
	// +kubebuilder:validation:Enum=source;default_branch
	PipelineRunProvenance string `json:"pipelinerun_provenance,omitempty"`
}

// +kubebuilder:object:root=true

// RepositoryList is a list of Repositories.
type RepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Repository `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Repository{}, &RepositoryList{})
}
