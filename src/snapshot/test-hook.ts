/**
 * A pause after the snapshot is taken, for tests that must change the live tree (or kill the
 * process) at a known point of a backup run as a child process. Set
 * `SNAPDUMP_TEST_PAUSE_AFTER_SNAPSHOT=FILE`: the backup writes `FILE.ready` (the snapshot
 * info as JSON) and waits until `FILE.go` exists. Unset, it does nothing.
 */
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SnapshotInfo } from './provider.js';

export function pauseAfterSnapshotHook(env: NodeJS.ProcessEnv = process.env): ((s: SnapshotInfo) => Promise<void>) | undefined {
  const file = env.SNAPDUMP_TEST_PAUSE_AFTER_SNAPSHOT;
  if (!file) return undefined;
  return async (s) => {
    // Published by rename, so a waiting test never reads it half-written.
    fs.writeFileSync(`${file}.ready.tmp`, JSON.stringify(s));
    fs.renameSync(`${file}.ready.tmp`, `${file}.ready`);
    while (!fs.existsSync(`${file}.go`)) await sleep(20);
  };
}
