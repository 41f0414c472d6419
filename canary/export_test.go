package canary

// Name lists and tag parameters, exported to the external tests so they can
// check the properties the code relies on.
var (
	VIFemaleGiven = viFemaleGiven
	VIMaleGiven   = viMaleGiven
	ENFemaleGiven = enFemaleGiven
	ENMaleGiven   = enMaleGiven
	ZHSurnames    = zhSurnames
)

const (
	TagAlphabet = tagAlphabet
	TagLen      = tagLen
)
