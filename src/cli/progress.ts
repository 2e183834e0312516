/** Rendering of backup/restore events for people (a one-line bar on a TTY) and for programs (JSON lines). */
import type { BackupEvent, ProgressEvent } from '../backup.js';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
  return `${n.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export function progressLine(e: ProgressEvent, width: number): string {
  const pct = e.totalBytes > 0 ? Math.min(100, (100 * e.bytes) / e.totalBytes) : e.totalFiles > 0 ? Math.min(100, (100 * e.files) / e.totalFiles) : 0;
  const barWidth = Math.max(10, Math.min(30, width - 70));
  const filled = Math.round((pct / 100) * barWidth);
  const bar = '#'.repeat(filled) + '-'.repeat(barWidth - filled);
  const eta = e.etaSeconds === null ? '--:--' : formatDuration(e.etaSeconds);
  const files = e.totalFiles > 0 ? `${e.files}/${e.totalFiles}` : `${e.files}`;
  const line = `${e.phase.padEnd(11)} [${bar}] ${pct.toFixed(0).padStart(3)}% ${files} files ${formatBytes(e.bytes)}/${formatBytes(e.totalBytes)} ${formatBytes(e.rate)}/s ETA ${eta}`;
  return line.length > width ? line.slice(0, width) : line;
}

export interface Reporter {
  event(e: BackupEvent): void;
  /** Clears the bar before other output. */
  clear(): void;
  finish(): void;
}

/** A bar redrawn in place on stderr, at most every 100 ms. */
export function ttyReporter(stream: NodeJS.WriteStream, warn: (text: string) => void): Reporter {
  let last = 0;
  let shown = false;
  const clear = () => { if (shown) { stream.write('\r\x1b[K'); shown = false; } };
  return {
    event(e) {
      if (e.type === 'warning') { clear(); warn(`${e.skipped ? 'skipped' : 'warning'}: ${e.path}: ${e.message}`); return; }
      if (e.type !== 'progress') return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      stream.write(`\r${progressLine(e, stream.columns || 100)}\x1b[K`);
      shown = true;
    },
    clear,
    finish: clear,
  };
}

/** Warnings only (no TTY or --quiet). */
export function plainReporter(warn: (text: string) => void, quiet: boolean): Reporter {
  return {
    event(e) {
      if (e.type === 'warning' && (e.skipped || !quiet)) warn(`${e.skipped ? 'skipped' : 'warning'}: ${e.path}: ${e.message}`);
    },
    clear() {},
    finish() {},
  };
}

/** One JSON object per line. */
export function jsonReporter(write: (line: string) => void): Reporter {
  return {
    event(e) { write(JSON.stringify(e)); },
    clear() {},
    finish() {},
  };
}
