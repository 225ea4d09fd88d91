package store

// BackupClickQuery exposes BackupClick's query to the external tests, which EXPLAIN it.
const BackupClickQuery = backupClickQuery

// ClickByIDQuery and ClickTimeRange expose the click-by-ID lookup to the test that EXPLAINs it.
const ClickByIDQuery = clickByIDQuery

var ClickTimeRange = clickTimeRange
