/**
 * One NDMP message = the 24-byte header + an XDR body whose type the table gives for
 * (code, request|reply). A header with a non-zero error code carries no body. Decoding never
 * throws: it says what went wrong so the connection can answer with a header error.
 */
import { MessageType, NdmpErr } from './constants.js';
import { MESSAGES, messageByCode, type MessageName } from './messages.js';
import { decode, encode, type Codec } from './schema.js';
import { XdrError, XdrReader, XdrWriter } from './xdr.js';

export const HEADER_BYTES = 24;

export interface Header {
  sequence: number;
  timeStamp: number;
  messageType: number;
  code: number;
  replySequence: number;
  error: number;
}

export type Decoded =
  /** A message from the table with its decoded body (undefined when the header carries an error). */
  | { ok: true; header: Header; name: MessageName; body: unknown }
  /** The header was readable, the rest not: unknown code, bad body. Answerable with a header error. */
  | { ok: false; header: Header; error: number; reason: string }
  /** Not even a header: the record is too short. */
  | { ok: false; header: null; error: number; reason: string };

function bodyCodec(name: MessageName, messageType: number): Codec | null {
  const m = MESSAGES[name];
  return messageType === MessageType.REPLY ? m.reply : m.request;
}

export function encodeMessage(header: Header, body: unknown, name?: MessageName): Buffer {
  const w = new XdrWriter(HEADER_BYTES + 64);
  w.u32(header.sequence);
  w.u32(header.timeStamp);
  w.i32(header.messageType);
  w.i32(header.code);
  w.u32(header.replySequence);
  w.i32(header.error);
  if (header.error === NdmpErr.NO_ERR) {
    const n = name ?? messageByCode(header.code);
    const codec = n ? bodyCodec(n, header.messageType) : null;
    if (codec) encode(codec, w, body);
  }
  return w.finish();
}

export function decodeMessage(record: Buffer): Decoded {
  if (record.length < HEADER_BYTES) {
    return { ok: false, header: null, error: NdmpErr.XDR_DECODE, reason: `record of ${record.length} bytes is shorter than a header` };
  }
  const r = new XdrReader(record);
  const header: Header = {
    sequence: r.u32(), timeStamp: r.u32(), messageType: r.i32(), code: r.i32(), replySequence: r.u32(), error: r.i32(),
  };
  const name = messageByCode(header.code);
  if (!name) return { ok: false, header, error: NdmpErr.NOT_SUPPORTED, reason: `unknown message code 0x${(header.code >>> 0).toString(16)}` };
  if (header.messageType !== MessageType.REQUEST && header.messageType !== MessageType.REPLY) {
    return { ok: false, header, error: NdmpErr.XDR_DECODE, reason: `bad message type ${header.messageType}` };
  }
  if (header.error !== NdmpErr.NO_ERR) return { ok: true, header, name, body: undefined };
  const codec = bodyCodec(name, header.messageType);
  if (codec === null) return { ok: false, header, error: NdmpErr.XDR_DECODE, reason: `${name} has no reply` };
  try {
    const body = decode(codec, r);
    if (r.remaining !== 0) return { ok: false, header, error: NdmpErr.XDR_DECODE, reason: `${r.remaining} bytes after the ${name} body` };
    return { ok: true, header, name, body };
  } catch (e) {
    if (e instanceof XdrError) return { ok: false, header, error: NdmpErr.XDR_DECODE, reason: `${name}: ${e.message}` };
    throw e;
  }
}
