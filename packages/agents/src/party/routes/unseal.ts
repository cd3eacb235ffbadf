/**
 * `sealed.release` (docs/sealing.md, "The party"): on a human approver's signed unseal request,
 * relayed by the gateway with its logged record of the request, this party decides by its own
 * policy whether to release its share of each sealed field, re-sealed to the approver's X25519 key
 * and signed with this party's identity key for this request and for the commitment of the share
 * it opened (so no relay can pass off a box of its own as this party's, nor get a release of a
 * share it sealed to this party into a field it showed only this party taken for this party's). Request-level failures refuse the
 * whole request (`PolicyRefusal` with the rule); field-level ones refuse that field only. Every
 * decision is audited (field ids and box digests, never a share).
 */
import {
  AapsError,
  checkUnsealFields,
  matchesPointerPattern,
  PolicyRefusal,
  parseUnsealRequest,
  ReleasedShareCodec,
  releaseShare,
  type SealedField,
  SealedFieldCodec,
  sealedBoxDigest,
  signRelease,
  type UnsealRequest,
  ValidationError,
  VerificationError,
  verifyUnsealRequest,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { MIN_UNSEAL_REASON } from '../../policy/schema.js';
import { approverKey } from '../../roster.js';
import type { PartyStore } from '../../store/level.js';
import type { PartyDeps } from '../context.js';
import type { RequestRecordChecker } from '../unseal-record.js';

export interface UnsealAnswer {
  released: { field: string; release: unknown }[];
  refused: { field: string; rule: string }[];
}

/**
 * What the handler needs: the party node passes its `PartyDeps`; an in-process coordinator may
 * pass a small store of its own (seen request ids, audit trail). `requestRecord` checks the
 * gateway's logged record of a request (`createRequestRecordChecker`).
 */
export type UnsealDeps = Pick<
  PartyDeps,
  'roster' | 'self' | 'identity' | 'policy' | 'logger' | 'now' | 'rng'
> & {
  store: Pick<PartyStore, 'rememberRequest' | 'audit'>;
  requestRecord: RequestRecordChecker;
};

const allows = (list: readonly string[], value: string) => list.includes('*') || list.includes(value);

export function createUnsealHandler(deps: UnsealDeps) {
  const now = deps.now ?? (() => new Date());

  const refuse = async (
    request: string,
    rule: string,
    message: string,
    requester?: string,
  ): Promise<never> => {
    await deps.store.audit({
      at: now().toISOString(),
      event: 'sealed.refused',
      session: request,
      detail: { rule, ...(requester === undefined ? {} : { requester }) },
    });
    throw new PolicyRefusal(rule, message, { details: { rule } });
  };

  return async function release(
    session: string,
    body: Record<string, unknown>,
    sender: string,
  ): Promise<UnsealAnswer> {
    if (sender !== deps.roster.gateway.id)
      throw new AapsError('FORBIDDEN', 'only the gateway relays unseal requests');
    const req: UnsealRequest = parseUnsealRequest(body.request);
    if (req.request_id !== session)
      throw new ValidationError('INVALID_ARGUMENT', 'session_id must be the request id', ['session_id']);
    const rules = deps.policy.unseal;
    if (rules === undefined)
      return refuse(req.request_id, 'unseal.disabled', 'this party releases no sealed field', req.requester);
    const key = approverKey(deps.roster, req.requester);
    if (key === undefined)
      return refuse(req.request_id, 'unseal.requester', `${req.requester} is not a roster approver`);
    const at = now();
    try {
      verifyUnsealRequest(req, key, at);
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
      const rule = e.check === 'unseal-request.expired' ? 'unseal.expired' : 'unseal.signature';
      return refuse(req.request_id, rule, e.message, req.requester);
    }
    // Nothing is released for a request the log does not hold (signed by k parties, in a
    // checkpoint they signed): whoever relays it, the request is on the record first.
    const logged = deps.requestRecord(body.request_record, body.request);
    if (!logged.ok) return refuse(req.request_id, 'unseal.unlogged', logged.message, req.requester);
    if (!allows(rules.approvers, req.requester))
      return refuse(
        req.request_id,
        'unseal.approvers',
        `${req.requester} may not unseal here`,
        req.requester,
      );
    if (rules.require_reason && req.reason.trim().length < MIN_UNSEAL_REASON)
      return refuse(
        req.request_id,
        'unseal.reason',
        `the request's reason must be at least ${MIN_UNSEAL_REASON} characters`,
        req.requester,
      );
    if (at.getTime() - Date.parse(req.issued_at) > rules.max_request_age_seconds * 1000)
      return refuse(req.request_id, 'unseal.max_age', 'the request is too old', req.requester);
    const wire = body.fields;
    if (!Array.isArray(wire) || wire.length === 0)
      throw new ValidationError('INVALID_ARGUMENT', 'fields: expected a non-empty array', ['body.fields']);
    // What the request names, as the policy says (a relay that forwards only some of them must not
    // slip a request naming more past the limit), and what was relayed.
    if (Math.max(req.fields.length, wire.length) > rules.max_fields_per_request)
      return refuse(
        req.request_id,
        'unseal.max_fields',
        `at most ${rules.max_fields_per_request} fields per request`,
        req.requester,
      );
    const fields: SealedField[] = wire.map((f) => SealedFieldCodec.fromJSON(f));
    checkUnsealFields(req, fields);
    if (
      // Kept past any time the request could still be accepted: its expiry plus clock skew, and at
      // least two hours.
      !(await deps.store.rememberRequest(
        `unseal/${req.request_id}`,
        at,
        new Date(Math.max(at.getTime() + 2 * 3600_000, (Date.parse(req.expires_at) || 0) + 600_000)),
        // On disk before anything is released: a power loss must not let the release happen twice.
        { sync: true },
      ))
    )
      return refuse(
        req.request_id,
        'unseal.replay',
        `request ${req.request_id} was seen before`,
        req.requester,
      );

    const detectors = (body.detectors ?? {}) as Record<string, unknown>;
    const out: UnsealAnswer = { released: [], refused: [] };
    const digests: { field: string; box_sha256: string }[] = [];
    const mine = x25519FromIdentitySecretKey(deps.identity.secretKey);
    try {
      const to = x25519FromIdentityPublicKey(key);
      for (const field of fields) {
        const detector =
          typeof detectors[field.id] === 'string' ? (detectors[field.id] as string) : 'unknown';
        if (!rules.paths.some((p) => matchesPointerPattern(p, field.path))) {
          out.refused.push({ field: field.id, rule: 'unseal.paths' });
          continue;
        }
        if (!allows(rules.detectors, detector)) {
          out.refused.push({ field: field.id, rule: 'unseal.detectors' });
          continue;
        }
        try {
          const box = releaseShare(field, deps.self.id, mine, to, {
            incidentId: req.incident_id,
            ...(deps.rng ? { rng: deps.rng } : {}),
          });
          const signed = signRelease(
            { requestId: req.request_id, incidentId: req.incident_id, requester: req.requester },
            field,
            deps.self.id,
            box,
            deps.identity.secretKey,
          );
          out.released.push({ field: field.id, release: ReleasedShareCodec.toJSON(signed) });
          digests.push({ field: field.id, box_sha256: sealedBoxDigest(box) });
        } catch (e) {
          if (!(e instanceof VerificationError) && !(e instanceof ValidationError)) throw e;
          out.refused.push({
            field: field.id,
            rule: e instanceof VerificationError ? e.check : 'sealed-field.share-missing',
          });
        }
      }
    } finally {
      mine.wipe();
    }
    await deps.store.audit({
      at: at.toISOString(),
      event: 'sealed.release',
      session: req.request_id,
      detail: {
        requester: req.requester,
        incident_id: req.incident_id,
        request_log_index: logged.logIndex,
        released: digests,
        refused: out.refused,
      },
    });
    deps.logger.info('sealed.release', {
      session: req.request_id,
      requester: req.requester,
      released: digests.length,
      refused: out.refused.length,
    });
    return out;
  };
}
