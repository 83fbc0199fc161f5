package redisstore

// MaxStuck is maxStuck, for the tests of the bound on abandoned calls.
const MaxStuck = maxStuck

// Stuck is how many calls the store gave up on are still running.
func (s *Store) Stuck() int64 { return s.stuck.Load() }
