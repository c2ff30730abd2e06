package agents

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/churn-dev/churn/agents/crds"
)

// savedObjectsVersion is bumped whenever what the emulation writes changes
// in a way a snapshot saved with a mesh would carry (object shapes, names,
// identity numbering): a run must not adopt objects an older emulation
// wrote. The CRD manifests are hashed in as well.
const savedObjectsVersion = 1

// SavedObjectsFingerprint identifies the objects mesh's emulation writes,
// for a snapshot saved with the mesh running: the CRDs it installs and
// savedObjectsVersion.
func SavedObjectsFingerprint(mesh string) (string, error) {
	spec, err := Spec(mesh)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "emulation=%d\nmesh=%s\n", savedObjectsVersion, spec.Name)
	for _, set := range crds.SetsForMesh(spec.Name) {
		objs, err := crds.Manifests(set)
		if err != nil {
			return "", err
		}
		for _, o := range objs {
			b, err := o.MarshalJSON()
			if err != nil {
				return "", fmt.Errorf("CRD set %s: %w", set, err)
			}
			fmt.Fprintf(h, "%s\n%s\n", set, b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
