/**
 * Snapshot records and their owners without btrfs: who holds a snapshot (live, dead, reused
 * pid, other host, kept), exclusive claims, pruning records whose snapshot is gone or was
 * replaced by something else, and the reading of btrfs-progs messages.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { failureOf, parseSubvolumeShow } from '../../src/snapshot/btrfs.js';
import { pruneSnapshots } from '../../src/snapshot/prune.js';
import { claimRecord, currentOwner, listRecords, openRecordsDir, recordId, recordStatus, type SnapshotRecord } from '../../src/snapshot/records.js';
import { removeTree, tempDir } from '../helpers/tree.js';

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

function record(snapPath: string, owner = currentOwner()): SnapshotRecord {
  const name = path.basename(snapPath);
  return {
    version: 1, id: recordId(name, snapPath), provider: 'btrfs', path: snapPath, name, subvolume: path.dirname(snapPath),
    subvolumeUuid: 'uuid-of-subvolume', source: '/src', owner, created: new Date().toISOString(), state: 'claimed', uuid: null, keep: null,
  };
}

describe('snapshot records', () => {
  let work: string;
  before(() => { work = tempDir('snaprec'); });
  after(() => removeTree(work));

  it('tells live, dead, reused-pid, foreign and kept owners apart', () => {
    const me = currentOwner();
    assert.equal(recordStatus(record('/x/s.0', me)), 'live');
    assert.equal(recordStatus(record('/x/s.0', { ...me, pid: deadPid() })), 'orphan');
    assert.equal(recordStatus(record('/x/s.0', { ...me, start: '1' })), 'orphan', 'same pid, other start time: the owner is gone');
    assert.equal(recordStatus(record('/x/s.0', { ...me, bootId: 'another-boot' })), 'orphan');
    assert.equal(recordStatus(record('/x/s.0', { ...me, pid: deadPid(), host: 'elsewhere' })), 'foreign', 'never judged from another host');
    assert.equal(recordStatus({ ...record('/x/s.0', { ...me, pid: deadPid() }), keep: { since: 'now', reason: 'test' } }), 'kept');
  });

  it('a claim is exclusive', async () => {
    const state = path.join(work, 'claim');
    await openRecordsDir(state);
    const r = record('/x/snapshot_for_backup.0');
    assert.equal(await claimRecord(state, r), true);
    assert.equal(await claimRecord(state, { ...r, owner: { ...r.owner, pid: 1 } }), false);
    assert.equal(listRecords(state).length, 1);
    assert.equal(listRecords(state)[0]!.record!.owner.pid, process.pid);
    assert.deepEqual(fs.readdirSync(path.join(state, 'snapshots')).filter((n) => !n.endsWith('.json')), [], 'no temp file left');
  });

  it('prune removes records of dead owners, never touches what is not their snapshot', async () => {
    const state = path.join(work, 'prune');
    await openRecordsDir(state);
    const dead = { ...currentOwner(), pid: deadPid() };
    const gone = record(path.join(work, 'gone/snapshot_for_backup.0'), dead);
    const plainDir = path.join(work, 'plain/snapshot_for_backup.1');
    fs.mkdirSync(plainDir, { recursive: true });
    fs.writeFileSync(path.join(plainDir, 'keep-me'), 'x');
    const notOurs = record(plainDir, dead);
    const live = record(path.join(work, 'live/snapshot_for_backup.2'));
    for (const r of [gone, notOurs, live]) assert.ok(await claimRecord(state, r));
    const results = await pruneSnapshots(state);
    assert.deepEqual(results.map((r) => [r.path, r.outcome]).sort(), [[gone.path, 'gone'], [plainDir, 'not-ours']].sort());
    assert.ok(fs.existsSync(path.join(plainDir, 'keep-me')), 'a directory that is not the recorded snapshot is left alone');
    assert.deepEqual(listRecords(state).map((x) => x.record!.path), [live.path]);
  });

  it('reads btrfs-progs messages and subvolume descriptions', () => {
    assert.equal(failureOf("cannot snapshot '/m/v': No space left on device"), 'NO_SPACE');
    assert.equal(failureOf("cannot snapshot '/m/v': Disk quota exceeded"), 'NO_SPACE');
    assert.equal(failureOf("cannot snapshot '/m/v': Permission denied"), 'PERMISSION');
    assert.equal(failureOf("cannot snapshot '/m/v': Operation not permitted"), 'PERMISSION');
    assert.equal(failureOf("cannot snapshot '/m/v': Read-only file system"), 'READ_ONLY');
    assert.equal(failureOf('Not a Btrfs subvolume: Invalid argument'), 'NOT_SUBVOLUME');
    assert.equal(failureOf('something else'), 'FAILED');
    const show = 'vol/.snaps/s1\n\tName: \t\t\ts1\n\tUUID: \t\t\t96a9fed2-1d33-9147-9c95-123a9022ddec\n\tParent UUID: \t\t3ace3d06-47c4-364f-acb6-e5ed656220ff\n\tReceived UUID: \t\t-\n\tFlags: \t\t\treadonly\n';
    assert.deepEqual(parseSubvolumeShow(show), { uuid: '96a9fed2-1d33-9147-9c95-123a9022ddec', parentUuid: '3ace3d06-47c4-364f-acb6-e5ed656220ff', readOnly: true });
    assert.deepEqual(parseSubvolumeShow('\tUUID: \t\tabc\n\tParent UUID: \t\t-\n\tFlags: \t\t\t-\n'), { uuid: 'abc', parentUuid: null, readOnly: false });
  });
});
