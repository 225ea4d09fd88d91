package workflows

// NewTestEnv is newTestEnv, for the external tests.
var NewTestEnv = newTestEnv
