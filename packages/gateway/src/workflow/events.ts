/** In-process fan-out of incident timeline entries, for server-sent events. */
import type { IncidentState, TimelineEntry } from './machine.js';

export interface IncidentEvent {
  incident_id: string;
  state: IncidentState;
  entry: TimelineEntry;
}

export interface IncidentEvents {
  publish(event: IncidentEvent): void;
  /** Returns the unsubscribe function. */
  subscribe(incidentId: string, listener: (event: IncidentEvent) => void): () => void;
}

export function createIncidentEvents(): IncidentEvents {
  const listeners = new Map<string, Set<(event: IncidentEvent) => void>>();
  return {
    publish(event) {
      for (const l of listeners.get(event.incident_id) ?? []) l(event);
    },
    subscribe(id, listener) {
      let set = listeners.get(id);
      if (set === undefined) {
        set = new Set();
        listeners.set(id, set);
      }
      set.add(listener);
      // Idempotent: a second call must not drop a newer set another subscriber made for this id.
      return () => {
        set.delete(listener);
        if (set.size === 0 && listeners.get(id) === set) listeners.delete(id);
      };
    },
  };
}
