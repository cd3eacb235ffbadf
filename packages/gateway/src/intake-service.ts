/**
 * Turns what an intake adapter read into incidents: signs each unsigned `IncidentSignal` with the
 * gateway's identity key (an already signed one was checked against the roster by the route),
 * creates the incident unless one of its dedup keys is known, and starts the workflow. A resolve
 * item ends the incident it names, if that incident has not changed anything yet.
 */
import { randomUUID } from 'node:crypto';
import type { Envelope, IdentityKey, IncidentSignalPayload, SignedEnvelope } from '@aaps/mpc-core';
import { signEnvelope } from '@aaps/mpc-core';
import type { IntakeResult } from './intake/types.js';
import type { GatewayStore } from './store.js';
import { startTimeline } from './workflow/machine.js';
import type { IncidentRecord } from './workflow/record.js';
import type { WorkflowRunner } from './workflow/runner.js';

export interface IntakeOutcome {
  incident_id: string;
  trace_id: string;
  state: string;
  /** True when a dedup key named an existing incident and nothing was created. */
  duplicate: boolean;
  ref: string;
}

export interface IntakeService {
  ingest(result: IntakeResult, opts?: { extraDedupKeys?: string[] }): Promise<IntakeOutcome[]>;
}

export function createIntakeService(deps: {
  store: GatewayStore;
  runner: WorkflowRunner;
  identity: { id: string; key: IdentityKey };
  now: () => Date;
  ids?: () => string;
}): IntakeService {
  const newId = deps.ids ?? (() => randomUUID());
  const existing = async (id: string, ref: string): Promise<IntakeOutcome> => {
    const r = await deps.store.getIncident(id);
    return {
      incident_id: id,
      trace_id: r?.trace_id ?? '',
      state: r?.state ?? 'received',
      duplicate: true,
      ref,
    };
  };
  return {
    async ingest(result, opts = {}) {
      const out: IntakeOutcome[] = [];
      for (const item of result.items) {
        if (item.action === 'resolve') {
          const id = await deps.store.findByDedupKey(item.dedup_key);
          if (id === undefined) continue;
          const r = await deps.runner.resolveBySource(id, item.at, item.actor);
          out.push({ incident_id: id, trace_id: r.trace_id, state: r.state, duplicate: true, ref: item.ref });
          continue;
        }
        const known = await deps.store.findByDedupKey(item.dedup_key);
        if (known !== undefined) {
          out.push(await existing(known, item.ref));
          continue;
        }
        const env: Envelope<IncidentSignalPayload> = item.envelope;
        const signed: SignedEnvelope =
          env.meta.signature === undefined
            ? (signEnvelope(env, deps.identity.key.secretKey) as SignedEnvelope)
            : (env as SignedEnvelope);
        const at = deps.now().toISOString();
        const id = `inc-${newId()}`;
        const record: IncidentRecord = {
          id,
          source: result.source,
          trace_id: env.meta.trace_id,
          dedup_keys: [...new Set([item.dedup_key, ...(opts.extraDedupKeys ?? [])])],
          correlation_key: item.correlation_key,
          type: env.payload.incident_type,
          state: 'received',
          created_at: at,
          updated_at: at,
          context: env.context,
          timeline: [
            startTimeline({
              at,
              actor: `source:${result.source}`,
              detail: {
                ref: item.ref,
                signed_by: env.meta.signature === undefined ? deps.identity.id : env.meta.source_agent,
              },
            }),
          ],
          transcript: [signed],
          human_approvals: [],
        };
        const created = await deps.store.createIncident(record);
        if (!created.created) {
          out.push(await existing(created.id, item.ref));
          continue;
        }
        deps.runner.start(id);
        out.push({
          incident_id: id,
          trace_id: record.trace_id,
          state: 'received',
          duplicate: false,
          ref: item.ref,
        });
      }
      return out;
    },
  };
}
