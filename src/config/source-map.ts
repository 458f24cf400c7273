// Remembers where each value of a configuration came from (a YAML line or a command-line override),
// so that errors can point at it.

import type { KeyPath } from './config-tree.js';
import { formatPath } from './config-tree.js';

export class ConfigSourceMap {
  private readonly where = new Map<string, string>();

  /** Records the origin of the value at `path` (and, implicitly, of everything below it). */
  set(path: KeyPath | string, where: string): void {
    this.where.set(typeof path === 'string' ? path : formatPath(path), where);
  }

  /** Forgets the origins recorded at and below `path` (before it is replaced or deleted). */
  clearBelow(path: KeyPath | string): void {
    const p = typeof path === 'string' ? path : formatPath(path);
    for (const key of [...this.where.keys()]) {
      if (key === p || key.startsWith(`${p}.`) || key.startsWith(`${p}[`)) this.where.delete(key);
    }
  }

  /** The origin of `path`, or of its nearest ancestor that has one. */
  describe(path: KeyPath | string): string | undefined {
    let p = typeof path === 'string' ? path : formatPath(path);
    for (;;) {
      const w = this.where.get(p);
      if (w !== undefined) return w;
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      if (cut <= 0) return undefined;
      p = p.slice(0, cut);
    }
  }

  clone(): ConfigSourceMap {
    const c = new ConfigSourceMap();
    for (const [k, v] of this.where) c.where.set(k, v);
    return c;
  }
}
