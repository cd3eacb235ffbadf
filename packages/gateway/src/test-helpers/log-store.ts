/** Test-only: a transparency-log store in memory. */
import type { LogStore } from '@aaps/evidence';

/** A log store in memory; `copy` starts from another's contents (a gateway restoring or rewriting). */
export function memoryLogStore(copy?: Map<string, Uint8Array>): {
  data: Map<string, Uint8Array>;
  store: LogStore;
} {
  const data = new Map(copy);
  const store: LogStore = {
    get: async (k) => data.get(k),
    batch: async (ops) => {
      for (const op of ops) op.type === 'put' ? data.set(op.key, op.value) : data.delete(op.key);
    },
  };
  return { data, store };
}
