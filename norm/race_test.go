//go:build race

package norm

// raceEnabled skips the slowest exhaustive tests under the race detector,
// which has nothing to find in them and makes them ten times slower.
const raceEnabled = true
