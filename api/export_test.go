package api

// WithTFClid is withTFClid, for the external tests.
var WithTFClid = withTFClid
