/**
 * Taking an image off a virtual tape: the records of one tape file (between filemarks), in
 * order, as a plain byte stream, which is what a dump image on a real tape reads as.
 */
import { SnapdumpError } from '../errors.js';
import { TapeMediaError, VirtualTape } from './virtual-tape.js';

const MAX_RECORD = 16 << 20;

/** The records of tape file `fileNumber` (0 = the first), as Buffers. */
export async function* tapeFileRecords(path: string, fileNumber = 0): AsyncGenerator<Buffer> {
  let tape: VirtualTape;
  try {
    tape = VirtualTape.open(path, false);
  } catch (e) {
    throw new SnapdumpError('ERR_SOURCE', `cannot open the virtual tape ${path}: ${(e as Error).message}`, { file: path }, { cause: e });
  }
  try {
    if (tape.fsf(fileNumber) !== 0) throw new SnapdumpError('ERR_SOURCE', `${path} has no tape file ${fileNumber}`, { file: path, tapeFile: fileNumber });
    for (;;) {
      const r = tape.read(MAX_RECORD);
      if (r.kind !== 'record') return;
      yield r.data;
    }
  } catch (e) {
    if (e instanceof TapeMediaError) throw new SnapdumpError('ERR_CORRUPT', `${path}: ${e.message}`, { file: path, offset: e.offset });
    throw e;
  } finally {
    tape.close();
  }
}
