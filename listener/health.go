package listener

// Health reports whether the listener serves (its caches synced) and the triggers whose configuration
// could not be compiled ("namespace/name: reason"), as /readyz does: for EventListener status.
func (s *Server) Health() (bool, []string) { return s.ready.Load(), s.config.problems() }
