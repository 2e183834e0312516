/**
 * What every header of one dump carries (DUMP-FORMAT.md §10 checklist item 3), and the header
 * those shared fields make.
 */
import { DR_NEWINODEFMT } from './constants.js';
import { emptyHeader, type Header } from './header.js';

export interface VolumeInfo {
  date: number;
  ddate: number;
  volume: number;
  level: number;
  label: string;
  filesys: string;
  dev: string;
  host: string;
  ntrec: number;
  /** Highest inode number + 1 (TS_CLRI/TS_END carry maxino − 1). */
  maxino: number;
}

export function baseHeader(vol: VolumeInfo, type: number): Header {
  const h = emptyHeader();
  h.type = type;
  h.date = vol.date;
  h.ddate = vol.ddate;
  h.volume = vol.volume;
  h.level = vol.level;
  h.label = vol.label;
  h.filesys = vol.filesys;
  h.dev = vol.dev;
  h.host = vol.host;
  h.ntrec = vol.ntrec;
  h.flags = DR_NEWINODEFMT;
  return h;
}

