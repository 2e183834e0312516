import { it } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, progressLine } from '../../src/cli/progress.js';

it('formats bytes and durations', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
  assert.equal(formatDuration(59), '0:59');
  assert.equal(formatDuration(3725), '1:02:05');
});

it('a progress line shows phase, percentage, files, bytes, rate and ETA within the width', () => {
  const line = progressLine({ type: 'progress', phase: 'files', files: 50, totalFiles: 200, bytes: 512 * 1024 ** 2, totalBytes: 1024 ** 3, imageBytes: 0, elapsedMs: 4000, rate: 128 * 1024 ** 2, etaSeconds: 4 }, 120);
  assert.match(line, /^files\s+\[#+-+\]\s+50% 50\/200 files 512\.0 MiB\/1\.0 GiB 128\.0 MiB\/s ETA 0:04$/);
  assert.ok(progressLine({ type: 'progress', phase: 'traverse', files: 3, totalFiles: 0, bytes: 0, totalBytes: 0, imageBytes: 0, elapsedMs: 1, rate: 0, etaSeconds: null }, 40).length <= 40);
});
