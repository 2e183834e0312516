/**
 * A small typed XDR schema language: codecs are plain data (so tests can walk them to generate
 * values), one generic encoder and decoder interpret them, and `Infer` gives the TypeScript type
 * of the value a codec carries. The NDMP message table (messages.ts) is written with these.
 */
import { XdrError, type XdrReader, type XdrWriter } from './xdr.js';

export type Codec =
  | { readonly kind: 'void' }
  | { readonly kind: 'u32' }
  /** Enums and signed longs: decoded as int32, never rejected by value (checks are semantic). */
  | { readonly kind: 'i32' }
  | { readonly kind: 'u64' }
  /** string<> as UTF-8 text. */
  | { readonly kind: 'string' }
  /** string<> or opaque<> as raw bytes (path names, tape data). */
  | { readonly kind: 'bytes' }
  | { readonly kind: 'fixed'; readonly size: number }
  | { readonly kind: 'array'; readonly of: Codec }
  | { readonly kind: 'struct'; readonly fields: { readonly [name: string]: Codec } }
  /** Arms by discriminant; an unknown discriminant decodes with no body. */
  | { readonly kind: 'union'; readonly arms: { readonly [disc: number]: Codec } };

export const VOID = { kind: 'void' } as const;
export const u32 = { kind: 'u32' } as const;
export const i32 = { kind: 'i32' } as const;
export const u64 = { kind: 'u64' } as const;
export const str = { kind: 'string' } as const;
export const bytes = { kind: 'bytes' } as const;
export const fixed = <N extends number>(size: N) => ({ kind: 'fixed', size }) as const;
export const array = <C extends Codec>(of: C) => ({ kind: 'array', of }) as const;
export const struct = <F extends { readonly [name: string]: Codec }>(fields: F) => ({ kind: 'struct', fields }) as const;
export const union = <A extends { readonly [disc: number]: Codec }>(arms: A) => ({ kind: 'union', arms }) as const;

type UnionValue<A> = { [K in keyof A]: K extends number ? { type: K; body: Infer<A[K]> } : never }[keyof A];

export type Infer<C> =
  C extends { kind: 'void' } ? undefined
    : C extends { kind: 'u32' | 'i32' } ? number
      : C extends { kind: 'u64' } ? bigint
        : C extends { kind: 'string' } ? string
          : C extends { kind: 'bytes' | 'fixed' } ? Buffer
            : C extends { kind: 'array'; of: infer O } ? Array<Infer<O>>
              : C extends { kind: 'struct'; fields: infer F } ? { -readonly [K in keyof F]: Infer<F[K]> }
                : C extends { kind: 'union'; arms: infer A } ? UnionValue<A>
                  : never;

/** The fewest bytes an encoded value can take (to bound array counts against the body size). */
export function minBytes(c: Codec): number {
  switch (c.kind) {
    case 'void': return 0;
    case 'u64': return 8;
    case 'fixed': return (c.size + 3) & ~3;
    case 'struct': return Object.values(c.fields).reduce((n, f) => n + minBytes(f), 0);
    default: return 4;
  }
}

const fieldLists = new WeakMap<object, ReadonlyArray<readonly [string, Codec]>>();

/** A struct's fields in order, listed once per codec (file history encodes thousands of structs). */
function fieldsOf(c: { readonly fields: { readonly [name: string]: Codec } }): ReadonlyArray<readonly [string, Codec]> {
  let list = fieldLists.get(c);
  if (!list) { list = Object.entries(c.fields); fieldLists.set(c, list); }
  return list;
}

export function encode(c: Codec, w: XdrWriter, v: unknown): void {
  switch (c.kind) {
    case 'void': return;
    case 'u32': w.u32(v as number); return;
    case 'i32': w.i32(v as number); return;
    case 'u64': w.u64(v as bigint); return;
    case 'string': w.opaque(Buffer.from(v as string, 'utf8')); return;
    case 'bytes': w.opaque(v as Buffer); return;
    case 'fixed': {
      const b = v as Buffer;
      if (b.length !== c.size) throw new XdrError(`fixed opaque of ${c.size} bytes given ${b.length}`, 0);
      w.fixed(b);
      return;
    }
    case 'array': {
      const a = v as unknown[];
      w.u32(a.length);
      for (const e of a) encode(c.of, w, e);
      return;
    }
    case 'struct': {
      const o = v as Record<string, unknown>;
      for (const [name, f] of fieldsOf(c)) encode(f, w, o[name]);
      return;
    }
    case 'union': {
      const u = v as { type: number; body?: unknown };
      w.i32(u.type);
      const arm = c.arms[u.type];
      if (arm) encode(arm, w, u.body);
      return;
    }
  }
}

export function decode(c: Codec, r: XdrReader): unknown {
  switch (c.kind) {
    case 'void': return undefined;
    case 'u32': return r.u32();
    case 'i32': return r.i32();
    case 'u64': return r.u64();
    case 'string': return r.opaque().toString('utf8');
    case 'bytes': return Buffer.from(r.opaque());
    case 'fixed': return Buffer.from(r.fixed(c.size));
    case 'array': {
      const n = r.count(minBytes(c.of));
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(decode(c.of, r));
      return out;
    }
    case 'struct': {
      const o: Record<string, unknown> = {};
      for (const [name, f] of fieldsOf(c)) o[name] = decode(f, r);
      return o;
    }
    case 'union': {
      const type = r.i32();
      const arm = c.arms[type];
      return { type, body: arm ? decode(arm, r) : undefined };
    }
  }
}
