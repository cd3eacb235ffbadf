/**
 * `POST /v1/evidence/:evidence_id/unseal` (docs/sealing.md, "the unseal protocol"): a roster
 * approver's signed request to open sealed fields of an ended incident. The gateway checks it,
 * records it in the evidence log before asking any party, relays it to every party
 * (`sealed.release`), records each party's answer per field, and returns the releases, which are
 * sealed to the approver: the gateway cannot open them.
 */
import {
  AapsError,
  type Envelope,
  hexToBytes,
  parseUnsealRequest,
  ReleasedShareCodec,
  SCHEMA_VERSION,
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
 * each naming the party that answered. A party cannot put releases in another's name ahead of
 * that party's own (they would be set aside as repeats when the approver combines, and the honest
 * parties blamed for the forgeries), nor add releases the log does not record.
 */
function ownReleases(request: UnsealRequest, answer: PartyReleaseAnswer): PartyReleaseAnswer {
  if (answer.outcome !== 'answered') return answer;
  const seen = new Set<string>();
  const released = answer.released.filter((r) => {
    if (!request.fields.includes(r.field) || seen.has(r.field)) return false;
    let party: string | undefined;
    try {
      party = ReleasedShareCodec.fromJSON(r.release).party;
    } catch {
      party = undefined;
    }
    if (party !== answer.party) return false;
    seen.add(r.field);
    return true;
  });
  return { ...answer, released };
}

function releaseRecords(request: UnsealRequest, answers: PartyReleaseAnswer[]): UnsealReleaseRecord[] {
  const out: UnsealReleaseRecord[] = [];
  for (const a of answers) {
    for (const field of request.fields) {
      if (a.outcome === 'answered') {
        const got = a.released.find((r) => r.field === field);
        const refused = a.refused.find((r) => r.field === field);
        let box: ReturnType<typeof ReleasedShareCodec.fromJSON>['box'] | undefined;
        try {
          box = got === undefined ? undefined : ReleasedShareCodec.fromJSON(got.release).box;
        } catch {
          box = undefined;
        }
        if (box !== undefined)
          out.push(unsealReleaseRecord({ request, party: a.party, field, decision: 'released', box }));
        else
          out.push(
            unsealReleaseRecord({
              request,
              party: a.party,
              field,
              decision: 'refused',
              rule:
                refused?.rule ?? (got === undefined ? 'unseal.no-answer' : 'sealed-field.release.malformed'),
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

/** Records `requestId` as used, or throws `CONFLICT` if it was used before. */
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
      await claimRequestId(d, request.request_id);

      // 1. The request, in the log before any party is asked.
      const requested = recordEnvelope(
        d,
        incident,
        { type: 'UnsealRequested', request },
        `unseal-${request.request_id}-requested`,
      );
      const subject = {
        id: incident.id,
        type: 'unseal',
        evidence_id: evidenceId,
        request_id: request.request_id,
        requester: request.requester,
        fields: [...request.fields],
      };
      const recordedRequest = await d.evidence.record({
        incident: subject,
        decision: { outcome: 'unseal-requested', reason: request.reason },
        times: { requested: d.now().toISOString() },
        transcript: [requested],
      });
      // The incident is re-read before each write so a concurrent unseal's entry is kept.
      const current = async () => (await d.store.getIncident(incident.id)) ?? incident;
      // Read and written under the incident's lock: a run in flight writes the same record.
      await d.runner.withIncident(incident.id, async () =>
        d.store.putEvidence(recordedRequest.evidenceId, recordedRequest.bundle, await current()),
      );
      d.logger.info('unseal.requested', {
        incident_id: incident.id,
        request_id: request.request_id,
        requester: request.requester,
        evidence_id: recordedRequest.evidenceId,
        fields: request.fields.length,
      });

      // 2. Every party decides for itself.
      const answers = (
        await d.coordinator.releaseSealed({
          request,
          record: recordedRequest.bundle,
          fields: request.fields.map((f) => byId.get(f)),
          detectors: Object.fromEntries(request.fields.map((f) => [f, sealed.detectors[f] ?? 'unknown'])),
        })
      ).map((a) => ownReleases(request, a));

      // 3. Each answer per field, in the log (digests of the boxes, never a share).
      const records = releaseRecords(request, answers);
      const transcript = [
        requested,
        ...records.map((r, i) => recordEnvelope(d, incident, { ...r }, `unseal-${request.request_id}-${i}`)),
      ];
      const recordedReleases = await d.evidence.record({
        incident: subject,
        decision: {
          outcome: 'unseal-answered',
          released: records.filter((r) => r.decision === 'released').length,
          refused: records.filter((r) => r.decision !== 'released').length,
        },
        times: { requested: request.issued_at, answered: d.now().toISOString() },
        transcript,
      });
      await d.runner.withIncident(incident.id, async () => {
        const latest = await current();
        const withUnseal: IncidentRecord = {
          ...latest,
          unseals: [
            ...(latest.unseals ?? []),
            {
              request_id: request.request_id,
              requester: request.requester,
              request_evidence_id: recordedRequest.evidenceId,
              release_evidence_id: recordedReleases.evidenceId,
            },
          ],
        };
        await d.store.putEvidence(recordedReleases.evidenceId, recordedReleases.bundle, withUnseal);
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
    },
  );
}
