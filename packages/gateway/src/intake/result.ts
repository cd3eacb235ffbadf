/** Gathers an adapter's items, turning a second occurrence of one key in the same body into `ignored`. */
import type { IgnoreReason, IntakeItem, IntakeResult, IntakeSource } from './types.js';

export interface ResultBuilder {
  add(item: IntakeItem): void;
  ignore(ref: string, reason: IgnoreReason): void;
  result(): IntakeResult;
}

export function createResultBuilder(source: IntakeSource): ResultBuilder {
  const result: IntakeResult = { source, items: [], ignored: [] };
  const seen = new Set<string>();
  return {
    add(item) {
      const key = `${item.action}\u0000${item.dedup_key}`;
      if (seen.has(key)) {
        result.ignored.push({ ref: item.ref, reason: 'duplicate_in_batch' });
        return;
      }
      seen.add(key);
      result.items.push(item);
    },
    ignore(ref, reason) {
      result.ignored.push({ ref, reason });
    },
    result() {
      return result;
    },
  };
}
