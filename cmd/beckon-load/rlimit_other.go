//go:build !unix

package main

// raiseFileLimit does nothing where there are no rlimits; it returns 0 (unknown).
func raiseFileLimit() uint64 { return 0 }
