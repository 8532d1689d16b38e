package emulator

import "time"

// Managed databases: being written by the databases engineer.
type databaseStore struct{ e *Emulator }

func newDatabaseStore(e *Emulator) *databaseStore { return &databaseStore{e: e} }
func (s *databaseStore) register(r *router)       {}
func (s *databaseStore) advance(now time.Time)    {}
func (s *databaseStore) inventory() []Item        { return nil }
func (s *databaseStore) reset()                   {}
