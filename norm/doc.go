// Package norm turns the ways people write names, phone numbers, prices and
// dates into comparable values, so that a canary planted with one shop can be
// recognised when it comes back in a scam text written in Vietnamese, Chinese
// or English.
//
// Everything here is a pure function of its arguments: no I/O, no package
// state that changes (the folding tables are built on first use and never
// written again). Mentions found in free text carry byte offsets into the
// original text so that evidence can quote it exactly.
package norm
