// Package fakenodes creates, waits for and deletes KWOK fake nodes: Node
// objects that no kubelet runs, whose status and leases the kwok process
// of the local control plane (or of a real cluster) keeps alive.
package fakenodes

import (
	corev1 "k8s.io/api/core/v1"
)

// The marks that make a node a churn fake node.
const (
	// KWOKAnnotationKey/Value select the node for kwok
	// (--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake).
	KWOKAnnotationKey   = "kwok.x-k8s.io/node"
	KWOKAnnotationValue = "fake"

	// TaintKey/TaintValue/TaintEffect keep real workloads off fake nodes.
	// Workload pods meant to land on them must carry Toleration().
	TaintKey    = "kwok.x-k8s.io/node"
	TaintValue  = "fake"
	TaintEffect = corev1.TaintEffectNoSchedule

	// TypeLabelKey/TypeLabelValue mark every fake node; workloads use it as
	// a nodeSelector and LabelSelector selects all fake nodes.
	TypeLabelKey   = "type"
	TypeLabelValue = "kwok"
	LabelSelector  = TypeLabelKey + "=" + TypeLabelValue

	// RoleLabelKey is set (empty value) so node listings show a role.
	RoleLabelKey = "node-role.kubernetes.io/agent"

	// ZoneLabelKey and RegionLabelKey carry the topology spread.
	ZoneLabelKey   = corev1.LabelTopologyZone
	RegionLabelKey = corev1.LabelTopologyRegion
	Region         = "churn-region"
)

// Toleration returns the toleration a pod needs to run on fake nodes.
func Toleration() corev1.Toleration {
	return corev1.Toleration{
		Key:      TaintKey,
		Operator: corev1.TolerationOpEqual,
		Value:    TaintValue,
		Effect:   TaintEffect,
	}
}

// NodeSelector returns the nodeSelector that pins a pod to fake nodes.
func NodeSelector() map[string]string {
	return map[string]string{TypeLabelKey: TypeLabelValue}
}
