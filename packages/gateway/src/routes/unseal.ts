/**
 * `POST /v1/evidence/:evidence_id/unseal` (docs/sealing.md, "the unseal protocol"): a roster
 * approver's signed request to open sealed fields of an ended incident. The gateway checks it,
 * records it in the evidence log before asking any party, relays it to every party
 * (`sealed.release`), records each party's answer per field, and returns the releases, which are
 * sealed to the approver: the gateway cannot open them.
 */

import type { EvidenceBundle } from '@aaps/evidence';
import {
  AapsError,
  type Envelope,
  hexToBytes,
  parseUnsealRequest,
  type ReleasedShare,
  ReleasedShareCodec,
  releaseSignedBy,
  SCHEMA_VERSION,
  type SealedField,
  SealedFieldCodec,
  type SignedEnvelope,
  signEnvelope,
  type UnsealReleaseRecord,
  type UnsealRequest,
  unsealReleaseRecord,
  ValidationError,
  VerificationError,
  verifyUnsealRequest,
} from '@aaps/mpc-core';
import type { PartyReleaseAnswer } from '../coordinator.js';
import type { EvidenceRecordInput } from '../evidence-writer.js';
import { requireScope } from '../middleware/auth.js';
import { jsonBody } from '../middleware/body-limit.js';
import type { RouteDoc } from '../openapi.js';
import { parse } from '../schema/check.js';
import type { IncidentRecord } from '../workflow/record.js';
import type { GatewayApp, RouteDeps } from './deps.js';
import { UnsealAnswerSchema, UnsealBodySchema } from './schemas.js';

export const unsealRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/evidence/{evidence_id}/unseal',
    summary:
      'A roster approver asks the parties to release their shares of sealed fields (body {request: UnsealRequest}); each party decides by its own policy. The request and every answer are recorded as evidence.',
    auth: 'approve',
    body: UnsealBodySchema,
    responses: {
      '200': {
        description:
          'what each party answered, also when fewer than k released; the releases are sealed to the approver',
        schema: UnsealAnswerSchema,
      },
      '400': { description: 'malformed or expired request' },
      '401': { description: 'the request is not signed by the approver’s roster key' },
      '403': { description: 'the requester is not a roster approver' },
      '404': { description: 'unknown evidence, incident or sealed field' },
      '409': {
        description:
          'a request id seen before, or fewer than k parties would sign the record of the request (QUORUM_UNREACHABLE)',
      },
      '503': { description: 'this gateway’s coordinator cannot reach parties for unsealing' },
    },
  },
];

const SEEN = (id: string) => `unseal-request/${id}`;

/** Envelopes the gateway signs to put unseal records into an evidence transcript. */
function recordEnvelope(
  d: RouteDeps,
  incident: IncidentRecord,
  payload: Record<string, unknown>,
  span: string,
): SignedEnvelope {
  const env: Envelope<Record<string, unknown>> = {
    meta: {
      trace_id: incident.trace_id,
      span_id: span,
      timestamp: d.now().toISOString(),
      source_agent: d.identity.id,
      target_agent: 'audit',
      message_type: 'EvidenceBundleRef',
      schema_version: SCHEMA_VERSION,
      idempotency_key: span,
    },
    context: incident.context,
    payload,
  };
  return signEnvelope(env, d.identity.key.secretKey) as SignedEnvelope;
}

/**
 * The releases a party's answer may carry, and nothing else: one per requested field (the first),
 * each naming the party that answered and signed by it (its roster key, for this request). A party
 * cannot put releases in another's name ahead of that party's own (they would be set aside as
 * repeats when the approver combines, and the honest parties blamed for the forgeries), nor add
 * releases the log does not record. A release that does not decode or is not signed by its party
 * is recorded as refused with the check it failed, and not passed on; a field the party answered
 * only in others' names is recorded as refused with `sealed-field.release.other-party`.
 */
function ownReleases(
  request: UnsealRequest,
  answer: PartyReleaseAnswer,
  partyKey: Uint8Array | undefined,
  fields: ReadonlyMap<string, SealedField | undefined>,
): PartyReleaseAnswer {
  if (answer.outcome !== 'answered') return answer;
  const context = {
    requestId: request.request_id,
    incidentId: request.incident_id,
    requester: request.requester,
  };
  const seen = new Set<string>();
  const misnamed = new Set<string>();
  const refused = [...answer.refused];
  const released = answer.released.filter((r) => {
    if (!request.fields.includes(r.field) || seen.has(r.field)) return false;
    let release: ReleasedShare | undefined;
    try {
      release = ReleasedShareCodec.fromJSON(r.release);
    } catch {
      release = undefined;
    }
    if (release !== undefined && release.party !== answer.party) {
      misnamed.add(r.field);
      return false;
    }
    seen.add(r.field);
    // Signed for the share this field (as the gateway holds and relayed it) has for the party.
    const field = fields.get(r.field);
    const rule =
      release === undefined
        ? 'sealed-field.release.malformed'
        : partyKey === undefined || field === undefined || !releaseSignedBy(context, field, release, partyKey)
          ? 'sealed-field.release-signature'
          : undefined;
    if (rule !== undefined) refused.push({ field: r.field, rule });
    return rule === undefined;
  });
  // A field the party answered only with releases in others' names: the log says so, not that it
  // gave no answer.
  for (const field of misnamed)
    if (!seen.has(field) && !refused.some((r) => r.field === field))
      refused.push({ field, rule: 'sealed-field.release.other-party' });
  return { ...answer, released, refused };
}

function releaseRecords(request: UnsealRequest, answers: PartyReleaseAnswer[]): UnsealReleaseRecord[] {
  const out: UnsealReleaseRecord[] = [];
  for (const a of answers) {
    for (const field of request.fields) {
      if (a.outcome === 'answered') {
        const got = a.released.find((r) => r.field === field);
        const refused = a.refused.find((r) => r.field === field);
        // Every release left decodes and is signed by its party (`ownReleases`).
        const release = got === undefined ? undefined : ReleasedShareCodec.fromJSON(got.release);
        if (release !== undefined)
          out.push(
            unsealReleaseRecord({
              request,
              party: a.party,
              field,
              decision: 'released',
              box: release.box,
              signature: release.signature,
            }),
          );
        else
          out.push(
            unsealReleaseRecord({
              request,
              party: a.party,
              field,
              decision: 'refused',
              rule: refused?.rule ?? 'unseal.no-answer',
            }),
          );
      } else if (a.outcome === 'refused') {
        out.push(unsealReleaseRecord({ request, party: a.party, field, decision: 'refused', rule: a.rule }));
      } else {
        out.push(
          unsealReleaseRecord({ request, party: a.party, field, decision: 'unavailable', rule: a.code }),
        );
      }
    }
  }
  return out;
}

type UnsealEntry = NonNullable<IncidentRecord['unseals']>[number];

/** A bundle of an unseal and its evidence id (the SHA-256 of its log leaf). */
type Recorded = { evidenceId: string; bundle: EvidenceBundle };

/**
 * Stores a bundle of an unseal with the incident's `unseals` entry for its request set to `entry`
 * (added, or replaced), under the incident's lock and on the latest record, so a concurrent
 * unseal's entry or a run's write is not lost.
 */
async function withUnsealEntry(
  d: RouteDeps,
  incidentId: string,
  recorded: Recorded,
  entry: UnsealEntry,
): Promise<void> {
  await d.runner.withIncident(incidentId, async () => {
    const latest = await d.store.getIncident(incidentId);
    if (latest === undefined) throw new AapsError('NOT_FOUND', `incident ${incidentId} is gone`);
    const others = (latest.unseals ?? []).filter((u) => u.request_id !== entry.request_id);
    await d.store.putEvidence(recorded.evidenceId, recorded.bundle, {
      ...latest,
      unseals: [...others, entry],
    });
  });
}

/**
 * A record of an unseal, written so that a stop anywhere leaves nothing half-done: signed, stored
 * with the incident's entry `pending(evidenceId)`, appended to the log (idempotent), then stored
 * with its log entry and the entry `done(evidenceId)`. The request's record and its end's are
 * both written so.
 */
async function recordUnseal(
  d: RouteDeps,
  incidentId: string,
  input: EvidenceRecordInput,
  pending: (evidenceId: string) => UnsealEntry,
  done: (evidenceId: string) => UnsealEntry,
): Promise<Recorded> {
  const signed = await d.evidence.signRecord(input);
  await withUnsealEntry(d, incidentId, signed, pending(signed.evidenceId));
  return publishUnseal(d, incidentId, signed, done(signed.evidenceId));
}

/** Appends a stored record of an unseal and stores it with its log entry and `entry`. */
async function publishUnseal(
  d: RouteDeps,
  incidentId: string,
  stored: Recorded,
  entry: UnsealEntry,
): Promise<Recorded> {
  const logged = { evidenceId: stored.evidenceId, bundle: await d.evidence.publish(stored.bundle) };
  await withUnsealEntry(d, incidentId, logged, entry);
  return logged;
}

/** The entry once its end `evidenceId` is in the log. */
function ended(entry: UnsealEntry, evidenceId: string): UnsealEntry {
  const { end_evidence_id: _pending, ...rest } = entry;
  return { ...rest, release_evidence_id: evidenceId };
}

/**
 * The record of an unseal's end (the parties' answers, or why there are none): stored first with
 * the entry naming it (`end_evidence_id`), so the next start appends that very bundle and a
 * request never gets two ends.
 */
function recordEnd(d: RouteDeps, incidentId: string, entry: UnsealEntry, input: EvidenceRecordInput) {
  return recordUnseal(
    d,
    incidentId,
    input,
    (id) => ({ ...entry, release_evidence_id: null, end_evidence_id: id }),
    (id) => ended(entry, id),
  );
}

/** A gateway-signed record of why an unseal has no answers, after its request's envelope. */
function noAnswersRecord(
  d: RouteDeps,
  incident: IncidentRecord,
  requested: SignedEnvelope,
  request: UnsealRequest,
  why: { outcome: 'unseal-failed' | 'unseal-interrupted'; type: string; reason: string; code?: string },
): EvidenceRecordInput {
  return {
    incident: unsealSubject(incident.id, request),
    decision: {
      outcome: why.outcome,
      reason: why.reason,
      ...(why.code === undefined ? {} : { code: why.code }),
    },
    times: { requested: request.issued_at, ended: d.now().toISOString() },
    transcript: [
      requested,
      recordEnvelope(
        d,
        incident,
        {
          type: why.type,
          request_id: request.request_id,
          incident_id: incident.id,
          ...(why.code === undefined ? {} : { code: why.code }),
        },
        `unseal-${request.request_id}-${why.outcome}`,
      ),
    ],
  };
}

/**
 * After a restart: every unseal whose request is stored but whose end is not in the log gets
 * one, so each logged request has a logged end. An end that was stored before its append is
 * appended as it is; otherwise the unseal is recorded as interrupted (the gateway stopped, or
 * could not record the parties' answers, before they were in the log). The parties are not asked
 * again (each remembers the request id and would refuse it as a replay); whatever they released
 * went to nobody, since the answer never left this gateway, and each party's own audit trail holds
 * it. The approver sends a new request. Returns how many it recorded.
 *
 * Once `signal` is aborted (the gateway is stopping) no further entry is started: those left stay
 * pending and the next start finishes them. An entry already under way is written in the order
 * `recordUnseal` keeps, so a stop at any point leaves it pending or ended, never half-written.
 */
export async function finishInterruptedUnseals(
  d: RouteDeps,
  signal?: AbortSignal,
  pending?: readonly { requestId: string; incidentId: string }[],
): Promise<number> {
  let finished = 0;
  // Each entry on its own: one that fails (a store error, too few parties to sign) does not keep
  // the others waiting for the next start. The first failure is thrown once all were tried.
  let failure: unknown;
  for (const { requestId, incidentId } of pending ?? (await d.store.pendingUnseals())) {
    if (signal?.aborted === true) break;
    // Being answered by this process: not interrupted (its own route writes its end).
    if (live(d).has(requestId)) continue;
    try {
      const incident = await d.store.getIncident(incidentId);
      const entry = incident?.unseals?.find((u) => u.request_id === requestId);
      const stored = entry === undefined ? undefined : await d.store.getEvidence(entry.request_evidence_id);
      const requested = stored?.transcript[0];
      const request = (requested?.payload as { request?: UnsealRequest } | undefined)?.request;
      // An end stored before it went into the log: that very bundle is appended, never a second end.
      const endId = entry?.end_evidence_id;
      const storedEnd = endId === undefined ? undefined : await d.store.getEvidence(endId);
      if (
        incident === undefined ||
        entry === undefined ||
        stored === undefined ||
        requested === undefined ||
        request === undefined ||
        (endId !== undefined && storedEnd === undefined)
      ) {
        d.logger.warn('unseal.resume_skipped', {
          request_id: requestId,
          incident_id: incidentId,
          note: 'the pending unseal or one of its records does not read',
        });
        continue;
      }
      // Stored before it went into the log: put it there now (a bundle the log holds keeps its entry).
      if (stored.transparencyLog === undefined)
        await publishUnseal(d, incident.id, { evidenceId: entry.request_evidence_id, bundle: stored }, entry);
      const end =
        endId !== undefined && storedEnd !== undefined
          ? await publishUnseal(d, incident.id, { evidenceId: endId, bundle: storedEnd }, ended(entry, endId))
          : await recordEnd(
              d,
              incident.id,
              entry,
              noAnswersRecord(d, incident, requested as SignedEnvelope, request, {
                outcome: 'unseal-interrupted',
                type: 'UnsealInterrupted',
                reason:
                  'the parties’ answers were not recorded: the gateway stopped, or could not record them, before they were in the log',
              }),
            );
      d.logger.warn('unseal.ended_at_start', {
        incident_id: incident.id,
        request_id: request.request_id,
        evidence_id: end.evidenceId,
        stored_end: storedEnd !== undefined,
      });
      finished++;
    } catch (e) {
      d.logger.warn('unseal.resume_failed', {
        request_id: requestId,
        incident_id: incidentId,
        code: e instanceof AapsError ? e.code : 'INTERNAL',
      });
      failure ??= e;
    }
  }
  if (failure !== undefined) throw failure;
  return finished;
}

/** The Statement subject of an unseal's records. */
function unsealSubject(incidentId: string, request: UnsealRequest) {
  return {
    id: incidentId,
    type: 'unseal',
    evidence_id: request.evidence_id,
    request_id: request.request_id,
    requester: request.requester,
    fields: [...request.fields],
  };
}

/** Records `requestId` as used, or throws `CONFLICT` if it was used before. */
/**
 * The unseal requests this process is answering now, per app: the start-up resume
 * (`finishInterruptedUnseals`) runs while the server already takes requests, and a request that
 * is live here is pending in the store too, but no interrupted one.
 */
const liveRequests = new WeakMap<RouteDeps, Set<string>>();
function live(d: RouteDeps): Set<string> {
  const found = liveRequests.get(d);
  if (found !== undefined) return found;
  const set = new Set<string>();
  liveRequests.set(d, set);
  return set;
}

async function claimRequestId(d: RouteDeps, requestId: string): Promise<void> {
  const claimed = await d.store.claimMeta(SEEN(requestId), new TextEncoder().encode(d.now().toISOString()));
  if (!claimed) throw new AapsError('CONFLICT', `request ${requestId} was seen before`);
}

export function registerUnsealRoutes(app: GatewayApp, d: RouteDeps): void {
  app.post(
    '/v1/evidence/:evidence_id/unseal',
    requireScope(d.authenticate, 'approve'),
    d.readBody,
    async (c) => {
      const evidenceId = c.req.param('evidence_id');
      const body = parse(UnsealBodySchema, jsonBody(c), 'invalid unseal request');
      const request = parseUnsealRequest(body.request);
      if (request.evidence_id !== evidenceId)
        throw new ValidationError('INVALID_ARGUMENT', 'request.evidence_id is not this evidence', [
          'request.evidence_id',
        ]);
      // Who asks comes before what they ask about: a stranger learns nothing and records nothing.
      const trust = await d.trust();
      const approver = trust.approvers.find((a) => a.id === request.requester);
      if (approver === undefined)
        throw new AapsError('FORBIDDEN', `${request.requester} is not a roster approver`);
      try {
        verifyUnsealRequest(request, hexToBytes(approver.identity_key), d.now());
      } catch (e) {
        if (e instanceof VerificationError && e.check === 'unseal-request.expired')
          throw new ValidationError('STALE_REQUEST', e.message, ['request.expires_at']);
        throw e;
      }
      const bundle = /^[0-9a-f]{64}$/.test(evidenceId) ? await d.store.getEvidence(evidenceId) : undefined;
      const incident = await d.store.getIncident(request.incident_id);
      if (bundle === undefined || incident === undefined || incident.evidence_id !== evidenceId)
        throw new AapsError('NOT_FOUND', 'no such evidence for that incident');
      const sealed = incident.sealed ?? { fields: [], detectors: {} };
      const byId = new Map(
        sealed.fields.map((f) => [String((f as { body?: { id?: unknown } }).body?.id ?? ''), f]),
      );
      const unknown = request.fields.find((f) => !byId.has(f));
      if (unknown !== undefined)
        throw new AapsError('NOT_FOUND', `no sealed field ${unknown} in this incident`);
      if (d.coordinator.releaseSealed === undefined)
        throw new AapsError('UNAVAILABLE', 'this coordinator cannot reach the parties for unsealing');
      // What each release's signature is checked against (`ownReleases`); a stored field that does
      // not decode has no release the gateway can check, so none of it is relayed.
      const decoded = new Map(
        request.fields.map((f) => {
          try {
            return [f, SealedFieldCodec.fromJSON(byId.get(f))] as const;
          } catch {
            return [f, undefined] as const;
          }
        }),
      );
      await claimRequestId(d, request.request_id);
      live(d).add(request.request_id);
      try {
        // 1. The request, in the log before any party is asked.
        const requested = recordEnvelope(
          d,
          incident,
          { type: 'UnsealRequested', request },
          `unseal-${request.request_id}-requested`,
        );
        const subject = unsealSubject(incident.id, request);
        // Stored and listed in the incident, unanswered, before it goes into the log: a restart from
        // here on finds it (`finishInterruptedUnseals`) and no log entry is left that nothing names.
        const entryFor = (id: string): UnsealEntry => ({
          request_id: request.request_id,
          requester: request.requester,
          request_evidence_id: id,
          release_evidence_id: null,
        });
        const recordedRequest = await recordUnseal(
          d,
          incident.id,
          {
            incident: subject,
            decision: { outcome: 'unseal-requested', reason: request.reason },
            times: { requested: d.now().toISOString() },
            transcript: [requested],
          },
          entryFor,
          entryFor,
        );
        const entry = entryFor(recordedRequest.evidenceId);
        d.logger.info('unseal.requested', {
          incident_id: incident.id,
          request_id: request.request_id,
          requester: request.requester,
          evidence_id: recordedRequest.evidenceId,
          fields: request.fields.length,
        });

        // 2. Every party decides for itself. If they cannot be asked, that is the request's end.
        let answers: PartyReleaseAnswer[];
        try {
          answers = (
            await d.coordinator.releaseSealed({
              request,
              record: recordedRequest.bundle,
              fields: request.fields.map((f) => byId.get(f)),
              detectors: Object.fromEntries(request.fields.map((f) => [f, sealed.detectors[f] ?? 'unknown'])),
            })
          ).map((a) => {
            const key = trust.parties.find((p) => p.id === a.party)?.identity_key;
            return ownReleases(request, a, key === undefined ? undefined : hexToBytes(key), decoded);
          });
        } catch (e) {
          const code = e instanceof AapsError ? e.code : 'INTERNAL';
          await recordEnd(
            d,
            incident.id,
            entry,
            noAnswersRecord(d, incident, requested, request, {
              outcome: 'unseal-failed',
              type: 'UnsealFailed',
              reason: 'the parties could not be asked',
              code,
            }),
          ).catch((recording: unknown) =>
            // Left pending: the next start records its end.
            d.logger.warn('unseal.end_unrecorded', {
              request_id: request.request_id,
              code: recording instanceof AapsError ? recording.code : 'INTERNAL',
            }),
          );
          throw e;
        }

        // 3. Each answer per field, in the log (digests of the boxes, never a share).
        const records = releaseRecords(request, answers);
        const transcript = [
          requested,
          ...records.map((r, i) =>
            recordEnvelope(d, incident, { ...r }, `unseal-${request.request_id}-${i}`),
          ),
        ];
        const recordedReleases = await recordEnd(d, incident.id, entry, {
          incident: subject,
          decision: {
            outcome: 'unseal-answered',
            released: records.filter((r) => r.decision === 'released').length,
            refused: records.filter((r) => r.decision !== 'released').length,
          },
          times: { requested: request.issued_at, answered: d.now().toISOString() },
          transcript,
        });
        const keys = await d.coordinator.keys();
        d.logger.info('unseal.answered', {
          incident_id: incident.id,
          request_id: request.request_id,
          released: records.filter((r) => r.decision === 'released').length,
          evidence_id: recordedReleases.evidenceId,
        });
        return c.json({
          request_id: request.request_id,
          incident_id: incident.id,
          threshold: keys.threshold.min,
          releases: answers.flatMap((a) => (a.outcome === 'answered' ? a.released : [])),
          refusals: records
            .filter((r) => r.decision !== 'released')
            .map((r) => ({ field: r.field, party: r.party, decision: r.decision, rule: r.rule ?? null })),
          evidence: { request: recordedRequest.evidenceId, releases: recordedReleases.evidenceId },
        });
      } finally {
        live(d).delete(request.request_id);
      }
    },
  );
}
