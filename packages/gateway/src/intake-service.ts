/**
 * Turns what an intake adapter read into incidents: signs each unsigned `IncidentSignal` with the
 * gateway's identity key (an already signed one was checked against the roster by the route),
 * creates the incident unless one of its dedup keys is known, and starts the workflow. An
 * occurrence that joins an open incident by its correlation key is noted on that incident's
 * timeline (`occurrence.joined`). A new incident that shares a recurrence key with an incident
 * whose fix was executed within the recurrence window is marked `recurrence_of` it, and the
 * workflow gives it to a person instead of fixing it again. A resolve item ends the incident it
 * names, if that incident has not changed anything yet (else it notes it); one that names no
 * incident is reported as ignored (`no_incident`).
 *
 * A body is taken whole or not at all: every signal it makes is checked to be signable (canonical
 * JSON: no `__proto__` member, no lone surrogate) before anything is created or started, so a 400
 * leaves nothing behind (a sender such as Alertmanager drops what it got a 4xx for).
 */
import type { Logger } from '@aaps/agents';
import type {
  DetectionPolicy,
  Envelope,
  IdentityKey,
  IncidentSignalPayload,
  SealingParty,
  SignedEnvelope,
} from '@aaps/mpc-core';
import {
  detectAndSeal,
  detectSensitive,
  envelopeSigningBytes,
  SealedFieldCodec,
  signEnvelope,
  ValidationError,
} from '@aaps/mpc-core';
import { monotonicIds } from './incident-ids.js';
import { type NotePart, noteProbe, occurrenceNote } from './intake/occurrence.js';
import type { IgnoredSignal, IntakeResult, OpenIncident } from './intake/types.js';
import { type Issue, issuesToError } from './schema/check.js';
import type { GatewayStore } from './store.js';
import { startTimeline } from './workflow/machine.js';
import { DEFAULT_RECURRENCE_WINDOW_MS, type IncidentRecord, type RecurrenceOf } from './workflow/record.js';

export { DEFAULT_RECURRENCE_WINDOW_MS };

import type { WorkflowRunner } from './workflow/runner.js';

export interface IntakeOutcome {
  incident_id: string;
  trace_id: string;
  state: string;
  /**
   * True when nothing was created: a dedup key named an existing incident (a redelivery), the
   * occurrence joined an open incident (`joined`), or a resolve named the incident.
   */
  duplicate: boolean;
  /** A new occurrence (not a redelivery) that joined the open incident with its correlation key. */
  joined: boolean;
  /** On a new incident: the incident whose executed fix this failure came back after. */
  recurrence_of?: string;
  ref: string;
}

/** What one body came to: the incidents it opened or named, and what was ignored. */
export interface IntakeAnswer {
  incidents: IntakeOutcome[];
  /** The adapter's ignored signals, then resolves that named no incident (`no_incident`). */
  ignored: IgnoredSignal[];
}

export interface IntakeService {
  /**
   * `caller`: the name of the token that delivered it (never the token), recorded on the notes a
   * delivery leaves on an existing incident; absent for GitHub, which signs with its HMAC.
   */
  ingest(result: IntakeResult, opts?: { caller?: string }): Promise<IntakeAnswer>;
}

/** What sealing at intake needs: the detection policy and who the shares are sealed to. */
export interface IntakeSealing {
  policy: DetectionPolicy;
  /** The parties' X25519 keys (from their roster identity keys) and k. */
  recipients: () => Promise<{ parties: SealingParty[]; threshold: number }>;
  /** Roster ids whose signature an envelope may carry (a redacted one is re-signed by the gateway). */
  rosterIds: () => Promise<ReadonlySet<string>>;
}

/**
 * Throws one `ValidationError` naming every item whose signal could not be signed, before the
 * caller writes anything. `fields` are paths into the body: the item's `ref` (the part of a
 * native payload its signal was made from), or for an envelope (`POST /v1/incidents`, where the
 * body is the envelope) the failing path itself. The message also names the path in the signal.
 */
function assertSignable(result: IntakeResult): void {
  const issues: Issue[] = [];
  for (const item of result.items) {
    if (item.action !== 'open') continue;
    try {
      envelopeSigningBytes(item.envelope);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      // canonical.ts names the path from `$` and starts its message with it
      // (`$.payload.metadata.labels["__proto__"]: a member named __proto__ ...`).
      const at = e.fields[0] ?? '$';
      const what = e.message.startsWith(`${at}: `) ? e.message.slice(at.length + 2) : e.message;
      const inSignal = at.replace(/^\$\.?/, '');
      issues.push(
        result.source === 'envelope'
          ? { path: inSignal === '' ? '$' : inSignal, message: what }
          : {
              path: item.ref,
              message: `its signal cannot be signed: ${inSignal === '' ? '' : `${inSignal}: `}${what}`,
            },
      );
    }
  }
  if (issues.length > 0) throw issuesToError('refused, nothing recorded', issues);
}

/** One body's sealing recipients: the parties and k, and the roster ids (see {@link IntakeSealing}). */
interface SealingRecipients {
  parties: SealingParty[];
  threshold: number;
  roster: ReadonlySet<string>;
}

async function sealingRecipients(sealing: IntakeSealing): Promise<SealingRecipients> {
  const [{ parties, threshold }, roster] = await Promise.all([sealing.recipients(), sealing.rosterIds()]);
  return { parties, threshold, roster };
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
  /** See {@link DEFAULT_RECURRENCE_WINDOW_MS}; 0 turns the recurrence check off. */
  recurrenceWindowMs?: number;
}): IntakeService {
  const newId = deps.ids ?? monotonicIds();
  const windowMs = deps.recurrenceWindowMs ?? DEFAULT_RECURRENCE_WINDOW_MS;
  const existing = async (id: string, ref: string): Promise<IntakeOutcome> => {
    const r = await deps.store.getIncidentSummary(id);
    return {
      incident_id: id,
      trace_id: r?.trace_id ?? '',
      state: r?.state ?? 'received',
      duplicate: true,
      joined: false,
      ref,
    };
  };
  /** The incident whose fix, executed within the window, one of `keys` names. */
  const recurrenceOf = async (keys: readonly string[] | undefined): Promise<RecurrenceOf | undefined> => {
    if (keys === undefined || keys.length === 0 || windowMs <= 0) return undefined;
    const fix = await deps.store.latestFix(keys);
    if (fix === undefined) return undefined;
    const age = deps.now().getTime() - Date.parse(fix.fixed_at);
    return age <= windowMs
      ? { incident_id: fix.incident_id, fixed_at: fix.fixed_at, key: fix.key }
      : undefined;
  };
  /** Notes an occurrence that joined `id`, leaving out what the sealing policy would seal. */
  const noteJoined = (
    id: string,
    source: IntakeResult['source'],
    item: OpenIncident,
    caller: string | undefined,
  ): void => {
    const withheld = new Set<NotePart>();
    if (deps.sealing !== undefined) {
      for (const { path } of detectSensitive(noteProbe(item), deps.sealing.policy)) {
        // A pointer above both parts (`/payload`, from a path pattern) withholds both.
        if (!path.startsWith('/payload/metadata')) withheld.add('evidence_refs');
        if (!path.startsWith('/payload/evidence_refs')) withheld.add('message');
      }
    }
    const note = occurrenceNote(source, item, withheld);
    deps.runner.noteOccurrenceLater(
      id,
      caller === undefined ? note : { ...note, token_name: caller },
      `source:${source}`,
    );
  };
  /**
   * Seal what the detectors find in the envelope's payload (pointers `/payload/...`). A redacted
   * envelope loses its sender's signature (the bytes changed): it is re-signed by the gateway as
   * its sender, and the original signer is kept in the timeline.
   */
  const seal = async (
    incidentId: string,
    envelope: Envelope<IncidentSignalPayload>,
    to: SealingRecipients | undefined,
  ): Promise<{
    envelope: Envelope<IncidentSignalPayload>;
    sealed?: NonNullable<IncidentRecord['sealed']>;
    originalSigner?: string;
  }> => {
    if (deps.sealing === undefined || to === undefined) return { envelope };
    const { parties, threshold, roster } = to;
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
    async ingest(result, opts = {}) {
      // First every signal, then any write: a body refused here has created nothing.
      assertSignable(result);
      // Likewise who the fields are sealed to: asked once, before any write, so a body whose
      // sealing cannot start (the roster or key unreadable: a 5xx) has created nothing either.
      const to =
        deps.sealing !== undefined && result.items.some((i) => i.action === 'open')
          ? await sealingRecipients(deps.sealing)
          : undefined;
      const out: IntakeOutcome[] = [];
      const ignored: IgnoredSignal[] = [...result.ignored];
      for (const item of result.items) {
        if (item.action === 'resolve') {
          const id = await deps.store.findByDedupKey(item.dedup_key);
          if (id === undefined) {
            ignored.push({ ref: item.ref, reason: 'no_incident' });
            continue;
          }
          // Behind a run in flight it is queued, not waited for: the answer gives the state before it.
          const r =
            (await deps.runner.resolveBySourceUnblocked(id, item.at, item.actor, opts.caller)) ??
            (await deps.store.getIncident(id));
          if (r === undefined) {
            ignored.push({ ref: item.ref, reason: 'no_incident' });
            continue;
          }
          out.push({
            incident_id: id,
            trace_id: r.trace_id,
            state: r.state,
            duplicate: true,
            joined: false,
            ref: item.ref,
          });
          continue;
        }
        const keys = [...new Set([item.dedup_key, ...(item.extra_dedup_keys ?? [])])];
        const known = await deps.store.findByDedupKeys(keys);
        if (known !== undefined) {
          out.push(await existing(known, item.ref));
          continue;
        }
        const id = `inc-${newId()}`;
        const { envelope: env, sealed, originalSigner } = await seal(id, item.envelope, to);
        const signed: SignedEnvelope =
          env.meta.signature === undefined
            ? (signEnvelope(env, deps.identity.key.secretKey) as SignedEnvelope)
            : (env as SignedEnvelope);
        const recurrence = await recurrenceOf(item.recurrence_keys);
        const at = deps.now().toISOString();
        const record: IncidentRecord = {
          id,
          source: result.source,
          trace_id: env.meta.trace_id,
          dedup_keys: keys,
          ...(item.correlation_key === undefined ? {} : { correlation_key: item.correlation_key }),
          ...(item.joinable_by === undefined ? {} : { joinable_by: item.joinable_by }),
          ...(item.recurrence_keys === undefined ? {} : { recurrence_keys: item.recurrence_keys }),
          ...(recurrence === undefined ? {} : { recurrence_of: recurrence }),
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
                ...(recurrence === undefined ? {} : { recurrence_of: { ...recurrence } }),
              },
            }),
          ],
          transcript: [signed],
          human_approvals: [],
          ...(sealed === undefined ? {} : { sealed }),
        };
        const created = await deps.store.createIncident(record);
        if (created.joined) {
          // Noted in the background: the note waits for the incident's lock, which a run in
          // flight holds to its end, and the sender's answer does not wait for that.
          noteJoined(created.id, result.source, item, opts.caller);
          out.push({ ...(await existing(created.id, item.ref)), joined: true });
          continue;
        }
        if (!created.created) {
          out.push(await existing(created.id, item.ref));
          continue;
        }
        if (recurrence !== undefined) {
          deps.logger?.info('intake.recurrence', {
            incident_id: id,
            recurrence_of: recurrence.incident_id,
            key: recurrence.key,
          });
        }
        deps.runner.start(id);
        out.push({
          incident_id: id,
          trace_id: record.trace_id,
          state: 'received',
          duplicate: false,
          joined: false,
          ...(recurrence === undefined ? {} : { recurrence_of: recurrence.incident_id }),
          ref: item.ref,
        });
      }
      return { incidents: out, ignored };
    },
  };
}
