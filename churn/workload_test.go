package churn

import (
	"testing"

	"github.com/churn-dev/churn/profiles"
)

// The mesh agents and teardown select pods by every run label, so the pod
// template must carry them all.
func TestPodTemplateCarriesEveryRunLabel(t *testing.T) {
	w := newWorkload("churn-abcd", "run-1", profiles.Defaults())
	d := w.deploymentObject("churn-abcd-0", "app-0")
	got := d.Spec.Template.Labels
	for k, v := range RunLabels("run-1") {
		if got[k] != v {
			t.Errorf("pod template label %s = %q, want %q (labels %v)", k, got[k], v, got)
		}
	}
	if got[LabelApp] != "app-0" {
		t.Errorf("pod template label %s = %q, want app-0", LabelApp, got[LabelApp])
	}
}
