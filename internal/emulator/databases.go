package emulator

// NOTE TO THE ENGINEER REPLACING THIS FILE: your task prompt referred to
// "$(cat /tmp/emu_core.md)": that text was not expanded. Read /tmp/emu_core.md
// now: it describes the emulator core and the rules your code must follow.
// Delete this note when you replace the file.

import "time"

// Managed databases: being written; see the task description.
type databaseStore struct{ e *Emulator }

func newDatabaseStore(e *Emulator) *databaseStore { return &databaseStore{e: e} }
func (s *databaseStore) register(r *router)       {}
func (s *databaseStore) advance(now time.Time)    {}
func (s *databaseStore) inventory() []Item        { return nil }
func (s *databaseStore) reset()                   {}
