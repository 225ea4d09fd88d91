package store

// BackupClickQuery exposes BackupClick's query to the external tests, which EXPLAIN it.
const BackupClickQuery = backupClickQuery
