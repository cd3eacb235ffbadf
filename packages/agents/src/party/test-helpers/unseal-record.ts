/**
 * The logged record of an unseal request, as the gateway writes it (docs/sealing.md, step 4): a
 * bundle over one gateway-signed `UnsealRequested` envelope, signed under a group key, appended to
 * a log and carrying its inclusion proof against a checkpoint signed under the same key. The
 * group key here is a plain Ed25519 key (a FROST(Ed25519) signature is an Ed25519 signature).
 */
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import {
  attachLogEntry,
  buildBundle,
  bundleLogLeaf,
  ED25519_SUITE,
  type EvidenceBundle,
  type LogStore,
  TransparencyLog,
} from '@aaps/evidence';
import { type Envelope, SCHEMA_VERSION, signEnvelope, type UnsealRequest } from '@aaps/mpc-core';
import { verifierRoster } from '../routes/sign.js';
import { createRequestRecordChecker, type GroupTrust, type RequestRecordChecker } from '../unseal-record.js';
import type { FiveParties } from './five-parties.js';

export const TEST_LOG_ORIGIN = 'aaps.test/unseal-log';

export interface TestGroup {
  trust: GroupTrust;
  sign: (message: Uint8Array) => Promise<Uint8Array>;
}

/** A 3-of-5 group key held whole (tests only). */
export function testGroup(): TestGroup {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    trust: {
      groupPublicKey: new Uint8Array(spki.subarray(spki.length - 32)),
      threshold: { min: 3, max: 5 },
      ciphersuite: ED25519_SUITE,
    },
    sign: async (message) => new Uint8Array(nodeSign(null, message, privateKey)),
  };
}

/** The checker a party of `set` trusting `group` uses. */
export function recordCheckerFor(set: FiveParties, group: TestGroup): RequestRecordChecker {
  return createRequestRecordChecker({ roster: set.roster, group: () => group.trust });
}

function memoryStore(): LogStore {
  const data = new Map<string, Uint8Array>();
  return {
    get: async (k) => data.get(k),
    batch: async (ops) => {
      for (const op of ops) {
        if (op.type === 'put') data.set(op.key, op.value);
        else data.delete(op.key);
      }
    },
  };
}

/**
 * The record of `request`, logged. `logged: false` leaves it
 * signed but out of the log; `subjectRequestId` names another request in the Statement's subject.
 */
export async function loggedRequestRecord(
  set: FiveParties,
  group: TestGroup,
  request: UnsealRequest,
  opts: { logged?: boolean; outcome?: string; subjectRequestId?: string } = {},
): Promise<EvidenceBundle> {
  const id = request.request_id;
  const env: Envelope<Record<string, unknown>> = {
    meta: {
      trace_id: `trace-${id}`,
      span_id: `unseal-${id}-requested`,
      timestamp: new Date().toISOString(),
      source_agent: set.roster.gateway.id,
      target_agent: 'audit',
      message_type: 'EvidenceBundleRef',
      schema_version: SCHEMA_VERSION,
      idempotency_key: `unseal-${id}-requested`,
    },
    context: { namespace: 'shop', cluster: 'prod', urgency: 'P2', constraints_ref: 'policy://unseal/v1' },
    payload: { type: 'UnsealRequested', request: { ...request } },
  };
  const bundle = await buildBundle(
    {
      incident: {
        id: request.incident_id,
        type: 'unseal',
        evidence_id: request.evidence_id,
        request_id: opts.subjectRequestId ?? id,
        requester: request.requester,
        fields: [...request.fields],
      },
      decision: { outcome: opts.outcome ?? 'unseal-requested' },
      action: null,
      humanApprovals: [],
      verification: null,
      times: { requested: new Date().toISOString() },
      transcript: [signEnvelope(env, set.gatewayKey.secretKey) as never],
      ciphersuite: ED25519_SUITE,
      groupPublicKey: group.trust.groupPublicKey,
      threshold: group.trust.threshold,
      signers: set.roster.parties.slice(0, 3).map((p) => p.id),
      roster: verifierRoster(set.roster),
    },
    group.sign,
  );
  if (opts.logged === false) return bundle;
  const log = await TransparencyLog.open(memoryStore(), { origin: TEST_LOG_ORIGIN });
  const index = await log.append(bundleLogLeaf(bundle));
  await log.signCheckpoint(
    { name: TEST_LOG_ORIGIN, type: 'ed25519', publicKey: group.trust.groupPublicKey },
    group.sign,
  );
  return attachLogEntry(bundle, await log.position(index));
}
