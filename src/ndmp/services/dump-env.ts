/**
 * Environment variables of butype `dump`, as NetApp ONTAP defines them, mapped to the engine's
 * options. Unknown variables are kept (and returned by DATA_GET_ENV) but otherwise ignored.
 */

export const DUMP_DEFAULT_ENV: ReadonlyArray<readonly [string, string]> = [
  ['LEVEL', '0'], ['UPDATE', 'Y'], ['HIST', 'N'], ['DIRECT', 'N'], ['EXTRACT', 'N'], ['RECURSIVE', 'Y'],
  ['FORCE', 'N'], ['IGNORE_CTIME', 'N'], ['BASE_DATE', '-1'],
];

export class EnvError extends Error {}

export type Env = Map<string, string>;

export function envMap(pvals: ReadonlyArray<{ name: string; value: string }>): Env {
  const m = new Map<string, string>();
  for (const { name, value } of pvals) m.set(name.toUpperCase(), value);
  return m;
}

/** Y/y/T/t/yes/true and N/n/F/f/no/false; anything else is an error naming the variable. */
export function envBool(env: Env, name: string, dflt: boolean): boolean {
  const v = env.get(name);
  if (v === undefined || v === '') return dflt;
  if (/^(y|yes|t|true|1)$/i.test(v)) return true;
  if (/^(n|no|f|false|0)$/i.test(v)) return false;
  throw new EnvError(`${name}=${v}: expected Y or N`);
}

export function envLevel(env: Env): number {
  const v = env.get('LEVEL') ?? '0';
  if (!/^\d{1,2}$/.test(v) || Number(v) > 31) throw new EnvError(`LEVEL=${v}: expected 0 to 31`);
  return Number(v);
}

/** BASE_DATE: -1 (or unset) disables date mode; 0 on a level 0 enables it; else a DUMP_DATE token. */
export function envBaseDate(env: Env): number | null {
  const v = env.get('BASE_DATE');
  if (v === undefined || v === '' || v === '-1') return null;
  if (!/^\d+$/.test(v)) throw new EnvError(`BASE_DATE=${v}: expected -1, 0 or a DUMP_DATE value`);
  const n = BigInt(v);
  // DUMP_DATE: high 32 bits level, low 32 bits the time.
  return Number(n & 0xffff_ffffn);
}

/** The DUMP_DATE token of a backup: level in the high 32 bits, the date in the low ones. */
export function dumpDateToken(level: number, date: number): string {
  return ((BigInt(level) << 32n) | BigInt(date >>> 0)).toString();
}
