/** Snapshots for backups: the public surface of src/snapshot. */
export { closeBackupSnapshot, openBackupSnapshot, type KeepSnapshot, type OpenSnapshotOptions, type SnapshotMode } from './session.js';
export { SNAPSHOT_DIR, SNAPSHOT_PREFIX, SnapshotUnavailable, type OpenedSnapshot, type SnapshotInfo, type SnapshotProvider } from './provider.js';
export { pruneSnapshots, releaseKeptSnapshot, type PruneResult } from './prune.js';
export { listRecords, recordStatus, type SnapshotRecord, type RecordStatus } from './records.js';
