package emulator

import "time"

// Kubernetes (DOKS): being written by the Kubernetes engineer.
type kubernetesStore struct{ e *Emulator }

func newKubernetesStore(e *Emulator) *kubernetesStore { return &kubernetesStore{e: e} }
func (s *kubernetesStore) register(r *router)         {}
func (s *kubernetesStore) advance(now time.Time)      {}
func (s *kubernetesStore) inventory() []Item          { return nil }
func (s *kubernetesStore) reset()                     {}

// clusterExists reports whether id names a live (not deleted) cluster; the
// database firewall uses it to validate k8s rules.
func (s *kubernetesStore) clusterExists(id string) bool { return false }
