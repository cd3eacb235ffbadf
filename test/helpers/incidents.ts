/** Fresh `IncidentSignal` envelopes (unsigned: the gateway re-signs them) the agents fix on their own. */
import { incidentEnvelope } from '../../bench/load/cluster.js';

export type IncidentKind = 'image' | 'config';

export function incidentSignal(kind: IncidentKind = 'image', tag = 'fault'): Record<string, unknown> {
  return incidentEnvelope(kind, tag);
}
