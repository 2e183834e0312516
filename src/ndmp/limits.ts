/**
 * How many backup/restore operations run at once, server-wide. As ONTAP: by system memory
 * (under 16 GB: 4; 16 up to 24 GB: 16; 24 GB and more: 32), unless the config says otherwise.
 */
import * as os from 'node:os';

const GiB = 1024 ** 3;

export function defaultOperationLimit(totalMemory = os.totalmem()): number {
  if (totalMemory < 16 * GiB) return 4;
  if (totalMemory < 24 * GiB) return 16;
  return 32;
}

export class OperationSlots {
  private used = 0;
  constructor(readonly limit: number) {}
  get active(): number { return this.used; }
  tryAcquire(): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }
  release(): void { if (this.used > 0) this.used--; }
}
