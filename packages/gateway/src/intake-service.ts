/**
 * Turns what an intake adapter read into incidents: signs each unsigned `IncidentSignal` with the
 * gateway's identity key (an already signed one was checked against the roster by the route),
 * creates the incident unless one of its dedup keys is known, and starts the workflow. A resolve
 * item ends the incident it names, if that incident has not changed anything yet.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '@aaps/agents';
import type {
  DetectionPolicy,
  Envelope,
  IdentityKey,
  IncidentSignalPayload,
  SealingParty,
  SignedEnvelope,
} from '@aaps/mpc-core';
import { detectAndSeal, SealedFieldCodec, signEnvelope } from '@aaps/mpc-core';
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
  ingest(result: IntakeResult): Promise<IntakeOutcome[]>;
}

/** What sealing at intake needs: the detection policy and who the shares are sealed to. */
export interface IntakeSealing {
  policy: DetectionPolicy;
  /** The parties' X25519 keys (from their roster identity keys) and k. */
  recipients: () => Promise<{ parties: SealingParty[]; threshold: number }>;
  /** Roster ids whose signature an envelope may carry (a redacted one is re-signed by the gateway). */
  rosterIds: () => Promise<ReadonlySet<string>>;
}

export function createIntakeService(deps: {
  store: GatewayStore;
  runner: WorkflowRunner;
  identity: { id: string; key: IdentityKey };
  now: () => Date;
  ids?: () => string;
  /** Unset: nothing is sealed. */
  sealing?: IntakeSealing;
  logger?: Logger;
}): IntakeService {
  const newId = deps.ids ?? (() => randomUUID());
  const existing = async (id: string, ref: string): Promise<IntakeOutcome> => {
    const r = await deps.store.getIncidentSummary(id);
    return {
      incident_id: id,
      trace_id: r?.trace_id ?? '',
      state: r?.state ?? 'received',
      duplicate: true,
      ref,
    };
  };
  /**
   * Seal what the detectors find in the envelope's payload (pointers `/payload/...`). A redacted
   * envelope loses its sender's signature (the bytes changed): it is re-signed by the gateway as
   * its sender, and the original signer is kept in the timeline.
   */
  const seal = async (
    incidentId: string,
    envelope: Envelope<IncidentSignalPayload>,
  ): Promise<{
    envelope: Envelope<IncidentSignalPayload>;
    sealed?: NonNullable<IncidentRecord['sealed']>;
    originalSigner?: string;
  }> => {
    if (deps.sealing === undefined) return { envelope };
    const { parties, threshold } = await deps.sealing.recipients();
    const out = await detectAndSeal({ payload: envelope.payload }, deps.sealing.policy, {
      incidentId,
      parties,
      threshold,
    });
    if (out.fields.length === 0) return { envelope };
    deps.logger?.info('intake.sealed', {
      incident_id: incidentId,
      trace_id: envelope.meta.trace_id,
      detections: out.detections.map((d) => `${d.id} ${d.kind} ${d.path}`),
    });
    const { signature, ...meta } = envelope.meta;
    const roster = await deps.sealing.rosterIds();
    const signedByRoster = signature !== undefined && roster.has(meta.source_agent);
    const redacted: Envelope<IncidentSignalPayload> = {
      ...envelope,
      meta: signedByRoster ? { ...meta, source_agent: deps.identity.id } : meta,
      payload: (out.payload as { payload: IncidentSignalPayload }).payload,
    };
    return {
      envelope: redacted,
      sealed: {
        fields: out.fields.map((f) => SealedFieldCodec.toJSON(f)),
        detectors: Object.fromEntries(out.detections.map((d) => [d.id, d.kind])),
      },
      ...(signature === undefined ? {} : { originalSigner: meta.source_agent }),
    };
  };

  return {
    async ingest(result) {
      const out: IntakeOutcome[] = [];
      for (const item of result.items) {
        if (item.action === 'resolve') {
          const id = await deps.store.findByDedupKey(item.dedup_key);
          if (id === undefined) continue;
          const r = await deps.runner.resolveBySource(id, item.at, item.actor);
          out.push({ incident_id: id, trace_id: r.trace_id, state: r.state, duplicate: true, ref: item.ref });
          continue;
        }
        const keys = [...new Set([item.dedup_key, ...(item.extra_dedup_keys ?? [])])];
        const known = await deps.store.findByDedupKeys(keys);
        if (known !== undefined) {
          out.push(await existing(known, item.ref));
          continue;
        }
        const id = `inc-${newId()}`;
        const { envelope: env, sealed, originalSigner } = await seal(id, item.envelope);
        const signed: SignedEnvelope =
          env.meta.signature === undefined
            ? (signEnvelope(env, deps.identity.key.secretKey) as SignedEnvelope)
            : (env as SignedEnvelope);
        const at = deps.now().toISOString();
        const record: IncidentRecord = {
          id,
          source: result.source,
          trace_id: env.meta.trace_id,
          dedup_keys: keys,
          ...(item.correlation_key === undefined ? {} : { correlation_key: item.correlation_key }),
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
                ...(originalSigner === undefined ? {} : { received_signed_by: originalSigner }),
                ...(sealed === undefined ? {} : { sealed_fields: sealed.fields.length }),
              },
            }),
          ],
          transcript: [signed],
          human_approvals: [],
          ...(sealed === undefined ? {} : { sealed }),
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
