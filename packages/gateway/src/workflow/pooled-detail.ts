/** How the workflow's timeline shows a pooled risk score. */
import type { PooledRisk } from '../coordinator.js';

/**
 * What the timeline says of a pooled risk score: its value and session, and the departments whose
 * input took the circuit's substitute (a v2 record's `excluded`: provider, reason), so a reader
 * sees that the score did not come from every department without decoding the record.
 */
export function pooledDetail(pooled: PooledRisk): Record<string, unknown> {
  const excluded = pooled.record['excluded'];
  return {
    value: pooled.ref.value,
    session_id: pooled.ref.session_id,
    ...(Array.isArray(excluded) && excluded.length > 0
      ? {
          substituted: excluded.map((x: { provider?: unknown; reason?: unknown }) => ({
            provider: x.provider,
            reason: x.reason,
          })),
        }
      : {}),
  };
}
