/**
 * The ndmpd configuration: exported volumes (name → directory; nothing outside them is read or
 * written), virtual tapes (name → container file), accounts, the state directory. It comes from
 * a JSON file and/or command-line flags (flags add to and override the file):
 *
 *   { "listen": "127.0.0.1:10000",
 *     "volumes": { "home": "/srv/home" },
 *     "tapes": { "tape0": "/var/lib/snapdump/tape0.vtape" },
 *     "tapeCapacity": { "tape0": "64M" },
 *     "users": { "ndmp": "secret" },
 *     "allowNoneAuth": false,
 *     "stateDir": "/var/lib/snapdump",
 *     "maxSessions": 4,
 *     "overrideVetoes": false }
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors.js';

export interface NdmpdConfig {
  host: string;
  port: number;
  volumes: Map<string, string>;
  tapes: Map<string, string>;
  /** Tape name → capacity in bytes (end of medium); tapes not listed are unlimited. */
  tapeCapacity: Map<string, number>;
  users: Map<string, string>;
  allowNoneAuth: boolean;
  stateDir?: string;
  /** Concurrent backup/restore operations (default: by system memory, as ONTAP). */
  maxSessions?: number;
  /** SIGTERM aborts running operations instead of waiting for them (ONTAP override-vetoes). */
  overrideVetoes: boolean;
}

export interface NdmpdFlags {
  listen?: string;
  config?: string;
  volumes?: string[];
  tapes?: string[];
  /** NAME=SIZE (bytes, or with a K, M or G suffix). */
  tapeCapacity?: string[];
  users?: string[];
  state?: string;
  allowNoneAuth?: boolean;
  maxSessions?: number;
  overrideVetoes?: boolean;
}

const NAME_RE = /^[A-Za-z0-9._-]+$/;

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  if (!m) throw new UsageError(`--listen must be HOST:PORT, not "${text}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`port ${port} is out of range`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function pair(text: string, sep: string, what: string): [string, string] {
  const i = text.indexOf(sep);
  if (i <= 0 || i === text.length - 1) throw new UsageError(`${what} must be NAME${sep}VALUE, not "${text}"`);
  return [text.slice(0, i), text.slice(i + 1)];
}

function addNamed(map: Map<string, string>, name: string, value: string, what: string, resolve: boolean): void {
  if (!NAME_RE.test(name)) throw new UsageError(`${what} name "${name}" may only hold letters, digits, '.', '_' and '-'`);
  map.set(name, resolve ? path.resolve(value) : value);
}

/** A size in bytes: digits with an optional K, M or G suffix (powers of 1024). */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${what} must be a positive size in bytes (e.g. 1048576 or 64M), not "${text}"`);
  return n;
}

function record(v: unknown, what: string, file: string): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new UsageError(`${file}: "${what}" must be an object of strings`);
  }
  return v as Record<string, string>;
}

export function loadConfig(flags: NdmpdFlags): NdmpdConfig {
  const cfg: NdmpdConfig = { host: '127.0.0.1', port: 10000, volumes: new Map(), tapes: new Map(), tapeCapacity: new Map(), users: new Map(), allowNoneAuth: false, overrideVetoes: false };
  if (flags.config) {
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(fs.readFileSync(flags.config, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`cannot read the config file ${flags.config}: ${(e as Error).message}`, { path: flags.config });
    }
    if (typeof raw !== 'object' || raw === null) throw new UsageError(`${flags.config}: not a JSON object`);
    const base = path.dirname(path.resolve(flags.config));
    const rel = (p: string) => path.resolve(base, p);
    if (raw.listen !== undefined) Object.assign(cfg, parseListen(String(raw.listen)));
    for (const [k, v] of Object.entries(record(raw.volumes, 'volumes', flags.config))) addNamed(cfg.volumes, k, rel(v), 'volume', false);
    for (const [k, v] of Object.entries(record(raw.tapes, 'tapes', flags.config))) addNamed(cfg.tapes, k, rel(v), 'tape', false);
    for (const [k, v] of Object.entries(record(raw.users, 'users', flags.config))) cfg.users.set(k, v);
    if (raw.tapeCapacity !== undefined) {
      if (typeof raw.tapeCapacity !== 'object' || raw.tapeCapacity === null || Array.isArray(raw.tapeCapacity)) throw new UsageError(`${flags.config}: "tapeCapacity" must be an object of sizes`);
      for (const [k, v] of Object.entries(raw.tapeCapacity)) cfg.tapeCapacity.set(k, parseSize(String(v), `tapeCapacity.${k}`));
    }
    if (raw.allowNoneAuth !== undefined) cfg.allowNoneAuth = raw.allowNoneAuth === true;
    if (raw.overrideVetoes !== undefined) cfg.overrideVetoes = raw.overrideVetoes === true;
    if (typeof raw.stateDir === 'string') cfg.stateDir = rel(raw.stateDir);
    if (raw.maxSessions !== undefined) {
      if (!Number.isInteger(raw.maxSessions) || (raw.maxSessions as number) < 1) throw new UsageError(`${flags.config}: maxSessions must be a positive integer`);
      cfg.maxSessions = raw.maxSessions as number;
    }
  }
  if (flags.listen) Object.assign(cfg, parseListen(flags.listen));
  for (const v of flags.volumes ?? []) { const [k, p] = pair(v, '=', '--volume'); addNamed(cfg.volumes, k, p, 'volume', true); }
  for (const t of flags.tapes ?? []) { const [k, p] = pair(t, '=', '--tape'); addNamed(cfg.tapes, k, p, 'tape', true); }
  for (const c of flags.tapeCapacity ?? []) { const [k, v] = pair(c, '=', '--tape-capacity'); cfg.tapeCapacity.set(k, parseSize(v, `--tape-capacity ${k}`)); }
  for (const u of flags.users ?? []) { const [k, p] = pair(u, ':', '--user'); cfg.users.set(k, p); }
  if (flags.state) cfg.stateDir = path.resolve(flags.state);
  if (flags.allowNoneAuth) cfg.allowNoneAuth = true;
  if (flags.overrideVetoes) cfg.overrideVetoes = true;
  if (flags.maxSessions !== undefined) cfg.maxSessions = flags.maxSessions;
  for (const [name, dir] of cfg.volumes) {
    let st: fs.Stats;
    try { st = fs.statSync(dir); } catch { throw new UsageError(`volume ${name}: ${dir} does not exist`, { volume: name, path: dir }); }
    if (!st.isDirectory()) throw new UsageError(`volume ${name}: ${dir} is not a directory`, { volume: name, path: dir });
    cfg.volumes.set(name, fs.realpathSync(dir));
  }
  for (const name of cfg.tapeCapacity.keys()) if (!cfg.tapes.has(name)) throw new UsageError(`tape capacity given for "${name}", which is not a configured tape`, { tape: name });
  if (cfg.users.size === 0 && !cfg.allowNoneAuth) throw new UsageError('no account configured: give --user NAME:PASSWORD (or allowNoneAuth in the config)');
  return cfg;
}
