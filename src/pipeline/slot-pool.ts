/**
 * A fixed set of shared buffers ("slots") that read workers fill and the tape writer drains.
 * Reusing the same pre-faulted memory avoids allocating, page-faulting, transferring and
 * garbage-collecting a new buffer per task (which cost more than the reads themselves), and it
 * bounds the memory of the file phase to slotCount × slotSize.
 */
export class SlotPool {
  readonly slots: SharedArrayBuffer[];
  private readonly free: number[];
  private readonly waiters: Array<(slot: number) => void> = [];

  constructor(readonly slotCount: number, readonly slotSize: number) {
    this.slots = Array.from({ length: slotCount }, () => new SharedArrayBuffer(slotSize));
    this.free = this.slots.map((_s, i) => i).reverse();
  }

  /**
   * Resolves with a free slot index, waiting for a release when none is free. An abort rejects
   * the wait: after an abort, slots held by chunks that were never written are never released,
   * and a wait for them would hang the teardown.
   */
  acquire(signal?: AbortSignal): Promise<number> {
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter = (s: number) => { signal?.removeEventListener('abort', onAbort); resolve(s); };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(slot: number): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(slot);
    else this.free.push(slot);
  }

  get available(): number {
    return this.free.length;
  }
}
