/**
 * A set of objects by (st_dev, st_ino), looked up with the numbers themselves: the walk asks it
 * once per entry, and a string key per entry ("dev:ino") cost more than the rest of the lookup.
 */
export class ObjectSet {
  private readonly devsByIno = new Map<number, number[]>();

  constructor(objects: Iterable<{ dev: number; ino: number }> = []) {
    for (const { dev, ino } of objects) {
      const devs = this.devsByIno.get(ino);
      if (devs === undefined) this.devsByIno.set(ino, [dev]);
      else if (!devs.includes(dev)) devs.push(dev);
    }
  }

  get empty(): boolean {
    return this.devsByIno.size === 0;
  }

  has(dev: number, ino: number): boolean {
    const devs = this.devsByIno.get(ino);
    return devs !== undefined && devs.includes(dev);
  }
}
