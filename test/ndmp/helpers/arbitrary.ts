/** fast-check values for any codec of the message table (walks the schema). */
import fc from 'fast-check';
import type { Codec } from '../../../src/ndmp/codec/schema.js';

export function arb(c: Codec): fc.Arbitrary<unknown> {
  switch (c.kind) {
    case 'void': return fc.constant(undefined);
    case 'u32': return fc.nat({ max: 0xffff_ffff });
    case 'i32': return fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
    case 'u64': return fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
    case 'string': return fc.string({ maxLength: 20, unit: 'grapheme' });
    case 'bytes': return fc.uint8Array({ maxLength: 37 }).map((a) => Buffer.from(a));
    case 'fixed': return fc.uint8Array({ minLength: c.size, maxLength: c.size }).map((a) => Buffer.from(a));
    case 'array': return fc.array(arb(c.of), { maxLength: 3 });
    case 'struct': return fc.record(Object.fromEntries(Object.entries(c.fields).map(([k, f]) => [k, arb(f)])), { noNullPrototype: true });
    case 'union': return fc.oneof(...Object.entries(c.arms).map(([d, a]) => arb(a).map((body) => ({ type: Number(d), body }))));
  }
}
