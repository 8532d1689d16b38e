package emulator

// NOTE TO THE ENGINEER REPLACING THIS FILE: your task prompt referred to
// "$(cat /tmp/emu_core.md)": that text was not expanded. Read /tmp/emu_core.md
// now: it describes the emulator core and the rules your code must follow.
// Delete this note when you replace the file.

import "time"

// Kubernetes (DOKS): being written; see the task description.
type kubernetesStore struct{ e *Emulator }

func newKubernetesStore(e *Emulator) *kubernetesStore { return &kubernetesStore{e: e} }
func (s *kubernetesStore) register(r *router)         {}
func (s *kubernetesStore) advance(now time.Time)      {}
func (s *kubernetesStore) inventory() []Item          { return nil }
func (s *kubernetesStore) reset()                     {}
