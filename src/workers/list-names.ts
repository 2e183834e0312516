/** Listing a directory the way the tape orders it. */
import * as fs from 'node:fs';

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Names of a directory sorted by their UTF-8 bytes (the order on tape): strings, or bytes for a
 * name that is not valid UTF-8 (a string would silently replace the bad bytes and name
 * another file).
 */
export function listNames(dir: string | Buffer): Array<string | Buffer> {
  if (typeof dir === 'string') {
    const names = fs.readdirSync(dir);
    let plain = true;
    for (const n of names) if (n.includes('\uFFFD') || SURROGATE.test(n)) { plain = false; break; }
    // Without replacement characters the names are exact; without surrogates, UTF-16 code unit
    // order (the default sort) equals UTF-8 byte order.
    if (plain) return names.sort();
  }
  const raw = fs.readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);
  return raw.map((n) => { const s = n.toString('utf8'); return Buffer.byteLength(s) === n.length && !s.includes('\uFFFD') ? s : n; });
}
