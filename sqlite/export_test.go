package sqlite

// LeaderOverlaps is how many times two callers led the Batcher at once.
func (b *Batcher) LeaderOverlaps() int { return int(b.overlaps.Load()) }
