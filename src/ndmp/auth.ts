/**
 * NDMP client authentication: TEXT (clear password) and MD5 challenge-response. The MD5 digest
 * is taken over 128 bytes: the password at 0, the 64-byte challenge at 64 − n, the password
 * again at 128 − n, zeros elsewhere, with n the password length capped at 32 (as ndmjob
 * computes it). Comparisons are constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const CHALLENGE_BYTES = 64;

export function newChallenge(): Buffer {
  return randomBytes(CHALLENGE_BYTES);
}

export function md5Digest(password: string, challenge: Buffer): Buffer {
  const pw = Buffer.from(password, 'utf8');
  const n = Math.min(pw.length, 32);
  const buf = Buffer.alloc(128);
  pw.copy(buf, 0, 0, n);
  challenge.copy(buf, 64 - n);
  pw.copy(buf, 128 - n, 0, n);
  return createHash('md5').update(buf).digest();
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  // Hash both so the comparison takes the same time whatever the lengths.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

export function checkText(users: ReadonlyMap<string, string>, id: string, password: string): boolean {
  const want = users.get(id);
  // Compare against something even for an unknown user, so timing does not reveal accounts.
  const ok = sameBytes(Buffer.from(want ?? '\0unknown', 'utf8'), Buffer.from(password, 'utf8'));
  return want !== undefined && ok;
}

export function checkMd5(users: ReadonlyMap<string, string>, id: string, digest: Buffer, challenge: Buffer): boolean {
  const want = users.get(id);
  const ok = sameBytes(md5Digest(want ?? '\0unknown', challenge), digest);
  return want !== undefined && ok;
}
