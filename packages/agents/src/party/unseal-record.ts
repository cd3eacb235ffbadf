/**
 * Whether the gateway logged an unseal request before relaying it (docs/sealing.md, "The party").
 *
 * The gateway sends, with the request, the `UnsealRequested` evidence bundle it logged: k parties'
 * FROST signature over a Statement whose one transcript envelope, signed by the gateway, carries
 * the request as the approver signed it, and an inclusion proof against a checkpoint the parties
 * signed k-of-n. A party releases only for such a record, checked here with the offline
 * verifier against its own roster and group key: a compromised gateway that relays a valid
 * request without recording it gets nothing, so every release has its request in the log.
 */

import type { EvidenceCiphersuite } from '@aaps/evidence';
import {
  type BundleVerifier,
  createBundleVerifier,
  isSupportedCiphersuite,
  type Threshold,
} from '@aaps/evidence';
import { bytesToHex, canonicalize, VerificationError } from '@aaps/mpc-core';
import type { Roster } from '../roster.js';
import { verifierRoster } from './routes/sign.js';

/** The group this party holds a share of: what a record of a request must be signed under. */
export interface GroupTrust {
  groupPublicKey: Uint8Array;
  threshold: Threshold;
  /** The group's FROST ciphersuite id. */
  ciphersuite: string;
}

export type RequestRecordCheck =
  | { ok: true; logIndex: number }
  | {
      ok: false;
      /** Why the record does not show the request logged. */
      message: string;
    };

/**
 * Checks the logged record of a request: `(record, request)`, `request` as received (the JSON the
 * approver signed).
 */
export type RequestRecordChecker = (record: unknown, request: unknown) => RequestRecordCheck;

export interface RequestRecordOptions {
  roster: Roster;
  /** The group key; `undefined` before the DKG (then nothing is released). */
  group: () => GroupTrust | undefined;
  /**
   * The origin of the log the record's checkpoint must be of: fixed, or read at each check (a
   * party node's configured or pinned origin, `party/log-origin.ts`), where `undefined` means the
   * party knows no log yet and accepts no record. Left out: any log the group signed (the
   * in-process coordinator, whose parties share one log).
   */
  logOrigin?: string | (() => string | undefined);
  /**
   * Why no log is known, when the `logOrigin` function returns `undefined` (the refusal's message;
   * by default: no checkpoint witnessed yet).
   */
  noLogReason?: () => string;
}

const fail = (message: string): RequestRecordCheck => ({ ok: false, message });

/** The transcript of a bundle that verified (so it is an array of signed envelopes). */
function transcriptOf(record: unknown): Array<{ meta: { source_agent: unknown }; payload: unknown }> {
  return (record as { transcript: Array<{ meta: { source_agent: unknown }; payload: unknown }> }).transcript;
}

export function createRequestRecordChecker(opts: RequestRecordOptions): RequestRecordChecker {
  const roster = verifierRoster(opts.roster);
  const gatewayId = opts.roster.gateway.id;
  // One verifier per group key and origin (it caches checkpoint signatures); a new DKG, or a new
  // origin, makes a new one.
  let cached: { key: string; verifier: BundleVerifier } | undefined;
  const verifierFor = (
    group: GroupTrust & { ciphersuite: EvidenceCiphersuite },
    logOrigin: string | undefined,
  ): BundleVerifier => {
    const key = `${group.ciphersuite}:${bytesToHex(group.groupPublicKey)}:${logOrigin ?? ''}`;
    if (cached?.key !== key) {
      cached = {
        key,
        verifier: createBundleVerifier({
          groupPublicKey: group.groupPublicKey,
          ciphersuite: group.ciphersuite,
          threshold: group.threshold,
          roster,
          requireLog: true,
          ...(logOrigin === undefined ? {} : { logOrigin }),
        }),
      };
    }
    return cached.verifier;
  };

  return (record, request) => {
    if (record === undefined || record === null)
      return fail('the gateway sent no logged record of the request');
    const group = opts.group();
    if (group === undefined) return fail('this party holds no group key to check the record against');
    const { ciphersuite } = group;
    if (!isSupportedCiphersuite(ciphersuite))
      return fail(`evidence is not signed under ${ciphersuite}, so no record of a request can be`);
    const logOrigin = typeof opts.logOrigin === 'function' ? opts.logOrigin() : opts.logOrigin;
    // A party that knows no log yet cannot tell the log auditors watch from a side log the
    // gateway started for this request: it releases nothing until it has witnessed a checkpoint.
    if (typeof opts.logOrigin === 'function' && logOrigin === undefined)
      return fail(
        `${opts.noLogReason?.() ?? 'this party has witnessed no checkpoint of the log yet (no log_origin configured, none pinned)'}, so no record can show the request logged`,
      );
    let verified: ReturnType<BundleVerifier['verify']>;
    try {
      verified = verifierFor({ ...group, ciphersuite }, logOrigin).verify(record);
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
      return fail(`the record of the request fails ${e.check}: ${e.message}`);
    }
    const req = request as { request_id?: unknown; incident_id?: unknown };
    const { incident, decision } = verified.statement.predicate;
    if (
      incident.type !== 'unseal' ||
      incident.request_id !== req.request_id ||
      incident.id !== req.incident_id ||
      decision.outcome !== 'unseal-requested'
    )
      return fail('the record is not the record of this request');
    const transcript = transcriptOf(record);
    const [envelope] = transcript;
    const payload = envelope?.payload as { type?: unknown; request?: unknown } | undefined;
    if (
      transcript.length !== 1 ||
      envelope?.meta.source_agent !== gatewayId ||
      payload?.type !== 'UnsealRequested' ||
      canonicalize(payload.request) !== canonicalize(request)
    )
      return fail('the record does not carry this request as the approver signed it');
    if (verified.logIndex === undefined) return fail('the record has no log entry');
    return { ok: true, logIndex: verified.logIndex };
  };
}
