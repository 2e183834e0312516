/**
 * `--snapshot PATH`: back up from a snapshot that already exists (a btrfs snapshot, ZFS
 * `.zfs/snapshot/NAME/...`, an LVM snapshot mount). PATH holds SOURCE's content as of the
 * snapshot; nothing is created or deleted. A PATH that is not read-only is used with a warning.
 */
import * as fs from 'node:fs';
import { SnapdumpError } from '../errors.js';
import { isReadOnlyDir, snapshotDirExclusion, type OpenedSnapshot, type SnapshotProvider } from './provider.js';

export function pathProvider(snapshotPath: string): SnapshotProvider {
  return {
    kind: 'path',
    async open() {
      let real: string;
      try {
        real = fs.realpathSync(snapshotPath);
        if (!fs.statSync(real).isDirectory()) throw new Error('not a directory');
      } catch (e) {
        throw new SnapdumpError('ERR_SNAPSHOT', `cannot use snapshot ${snapshotPath}: ${(e as Error).message}`, { path: snapshotPath, reason: 'NOT_FOUND' }, { cause: e });
      }
      const readOnly = isReadOnlyDir(real);
      const opened: OpenedSnapshot = {
        info: { provider: 'path', path: real, name: null, volume: null, readPath: real, consistent: readOnly, recordId: null },
        exclude: snapshotDirExclusion(real),
        notices: readOnly ? [] : [{
          code: 'SNAPSHOT_WRITABLE', path: real, skipped: false,
          message: 'the snapshot given is not read-only: files that change while they are read are reported, and the image may not be consistent',
        }],
        release: async () => 'none',
      };
      return opened;
    },
  };
}
