/**
 * Every party in this process: a trusted-dealer FROST key set, one identity key per party role,
 * each party's own default policy, and the real role steps. Used by the tests and by
 * `aaps up --local`. Each party still decides for itself: it evaluates the proposal against its own
 * policy, derives the signed bytes itself, re-derives the evidence PAE from the statement and
 * checks it against the transcript, and witnesses the log as a party node does: it signs a
 * checkpoint only when it extends, by a consistency proof, the last one it signed for the origin.
 */

import { randomUUID } from 'node:crypto';
import {
  type AgentRole,
  type ApprovalBacking,
  type ApprovalProposal,
  type AuditEntry,
  checkApprovalBacking,
  createLogger,
  createRequestRecordChecker,
  createUnsealHandler,
  decideCheckpoint,
  defaultPolicy,
  evaluateProposal,
  PARTY_ROLES,
  type PartyRole,
  type Policy,
  proposalSigningBytes,
  type Roster,
  runRoleStep,
  vetoHolders,
  type WitnessedCheckpoint,
} from '@aaps/agents';
import { checkEvidenceForSigning, formatCheckpoint, IN_TOTO_PAYLOAD_TYPE } from '@aaps/evidence';
import {
  AapsError,
  aggregate,
  base64Decode,
  base64Encode,
  bytesToHex,
  type CiphersuiteId,
  canonicalBytes,
  commit,
  generateIdentityKey,
  getCiphersuite,
  hexToBytes,
  type IdentityKey,
  identityPublicKey,
  type KeyPackage,
  KeyPackageCodec,
  PolicyRefusal,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
  SecretBytes,
  type SignedEnvelope,
  signEnvelope,
  signShare,
  trustedDealer,
  ValidationError,
} from '@aaps/mpc-core';
import type {
  AgentStepInput,
  CheckpointSubject,
  Coordinator,
  KeysInfo,
  PartyRefusal,
  PartyReleaseAnswer,
  ReleaseSealedInput,
  ThresholdResult,
} from './coordinator.js';
import { quorumUnreachable } from './quorum-failure.js';
import { type Principal, type TrustedKeys, verifierRoster, verifyHumanApproval } from './trust.js';
import { roleStepRequest, stepEnvelope } from './workflow/step-request.js';

export const DEFAULT_CIPHERSUITE: CiphersuiteId = 'FROST-ED25519-SHA512-v1';

/** Key material a local coordinator can be saved as and reopened from (holds secrets: store 0600). */
export interface LocalKeyMaterial {
  version: 1;
  ciphersuite: CiphersuiteId;
  public_package: string;
  /** Base64 of each party's encoded key package, in {@link PARTY_ROLES} order. */
  key_packages: string[];
  /** Hex of each party's Ed25519 identity seed, in {@link PARTY_ROLES} order. */
  identity_seeds: string[];
}

/**
 * The key saved material holds, as `aaps up --local` checks it against what it was asked for:
 * its ciphersuite and threshold (throws if its public package does not decode).
 */
export function localMaterialKey(m: LocalKeyMaterial): {
  ciphersuite: CiphersuiteId;
  threshold: { min: number; max: number };
} {
  const pkg = PublicKeyPackageCodec.decode(base64Decode(m.public_package), m.ciphersuite).value;
  return { ciphersuite: m.ciphersuite, threshold: { min: pkg.threshold.min, max: pkg.threshold.max } };
}

export interface LocalCoordinatorOptions {
  /** k (default 3); n is the five party roles. */
  threshold?: number;
  ciphersuite?: CiphersuiteId;
  /** Human approvers whose signed approvals the parties accept. */
  approvers?: readonly Principal[];
  /** The gateway's identity key (public, hex): it signs intake and maintenance envelopes. */
  gateway: Principal;
  now?: () => Date;
  /** Reopen saved key material instead of dealing new keys. */
  material?: LocalKeyMaterial;
  /** Per-role policies (default: each role's default policy). */
  policies?: Partial<Record<PartyRole, Policy>>;
  /**
   * Parties that do not answer right now (checked at each signing; for tests and drills): they
   * are listed as unavailable and sign nothing.
   */
  down?: (partyId: string) => boolean;
  /** Party ids by role, when a deployment names its parties otherwise (default: the role names). */
  partyIds?: Partial<Record<PartyRole, string>>;
}

interface LocalParty {
  role: PartyRole;
  id: string;
  identity: IdentityKey;
  keyPackage: KeyPackage;
  policy: Policy;
  /** The last checkpoint this party signed, by origin. */
  checkpoints: Map<string, WitnessedCheckpoint>;
  /** Unseal request ids this party has answered. */
  seen: Set<string>;
  audit: AuditEntry[];
}

export class LocalCoordinator implements Coordinator {
  readonly #parties: LocalParty[];
  readonly #publicPackage: PublicKeyPackage;
  readonly #suiteId: CiphersuiteId;
  readonly #approvers: readonly Principal[];
  readonly #gateway: Principal;
  readonly #now: () => Date;
  readonly #down: (partyId: string) => boolean;

  constructor(opts: LocalCoordinatorOptions) {
    this.#now = opts.now ?? (() => new Date());
    this.#down = opts.down ?? (() => false);
    this.#approvers = opts.approvers ?? [];
    this.#gateway = opts.gateway;
    const n = PARTY_ROLES.length;
    if (opts.material !== undefined) {
      const m = opts.material;
      if (m.version !== 1 || m.key_packages.length !== n || m.identity_seeds.length !== n) {
        throw new ValidationError('INVALID_ARGUMENT', 'local key material: expected five parties', [
          'material',
        ]);
      }
      this.#suiteId = m.ciphersuite;
      this.#publicPackage = PublicKeyPackageCodec.decode(base64Decode(m.public_package), m.ciphersuite).value;
      this.#parties = PARTY_ROLES.map((role, i) => {
        const seed = hexToBytes(m.identity_seeds[i] ?? '', `identity_seeds[${i}]`, 32);
        const secretKey = new SecretBytes(seed);
        seed.fill(0);
        return {
          role,
          id: opts.partyIds?.[role] ?? role,
          identity: { secretKey, publicKey: identityPublicKey(secretKey) },
          keyPackage: KeyPackageCodec.decode(base64Decode(m.key_packages[i] ?? ''), m.ciphersuite).value,
          policy: opts.policies?.[role] ?? defaultPolicy(role),
          checkpoints: new Map(),
          seen: new Set<string>(),
          audit: [],
        };
      });
    } else {
      this.#suiteId = opts.ciphersuite ?? DEFAULT_CIPHERSUITE;
      const { publicPackage, keyPackages } = trustedDealer(getCiphersuite(this.#suiteId), {
        min: opts.threshold ?? 3,
        max: n,
      });
      this.#publicPackage = publicPackage;
      this.#parties = PARTY_ROLES.map((role, i) => ({
        role,
        id: opts.partyIds?.[role] ?? role,
        identity: generateIdentityKey(),
        keyPackage: keyPackages[i] as KeyPackage,
        policy: opts.policies?.[role] ?? defaultPolicy(role),
        checkpoints: new Map(),
        seen: new Set<string>(),
        audit: [],
      }));
    }
  }

  /** The key material, to save (it holds every party's secrets). */
  exportMaterial(): LocalKeyMaterial {
    return {
      version: 1,
      ciphersuite: this.#suiteId,
      public_package: base64Encode(PublicKeyPackageCodec.encode(this.#suiteId, this.#publicPackage)),
      key_packages: this.#parties.map((p) =>
        base64Encode(KeyPackageCodec.encode(this.#suiteId, p.keyPackage)),
      ),
      identity_seeds: this.#parties.map((p) => bytesToHex(p.identity.secretKey.expose())),
    };
  }

  /** Party, approver and gateway keys, for the gateway's signature checks. */
  trustedKeys(): TrustedKeys {
    return {
      parties: this.#parties.map((p) => ({
        id: p.id,
        identity_key: bytesToHex(p.identity.publicKey),
        role: p.role,
      })),
      approvers: this.#approvers,
      gateway: this.#gateway,
    };
  }

  get publicPackage(): PublicKeyPackage {
    return this.#publicPackage;
  }

  async keys(): Promise<KeysInfo> {
    const pub = this.#publicPackage;
    return {
      ciphersuite: this.#suiteId,
      group_public_key: bytesToHex(pub.groupPublicKey),
      threshold: { min: pub.threshold.min, max: pub.threshold.max },
      parties: this.#parties.map((p) => ({
        id: p.id,
        role: p.role,
        url: `local://${p.id}`,
        identity_key: bytesToHex(p.identity.publicKey),
        verifying_share: bytesToHex(pub.verifyingShares[p.keyPackage.identifier] ?? new Uint8Array()),
      })),
    };
  }

  async agentStep(role: AgentRole, input: AgentStepInput): Promise<SignedEnvelope[]> {
    const party = this.#parties.find((p) => p.role === role);
    if (party === undefined) {
      throw new ValidationError('INVALID_ARGUMENT', `role: no party runs ${role}`, ['role']);
    }
    const request = roleStepRequest(role, input);
    const result = runRoleStep(party.role, party.policy, request, this.#evalContext());
    const at = this.#now();
    return result.outputs.map((out, i) =>
      signEnvelope(stepEnvelope(role, party.id, input, out, i, at, randomUUID()), party.identity.secretKey),
    );
  }

  async signApproval(proposal: ApprovalProposal, backing: ApprovalBacking): Promise<ThresholdResult> {
    const refusals: PartyRefusal[] = [];
    const willing: LocalParty[] = [];
    // Every in-process party checks the same backing against the same roster: once for all.
    const backed = checkApprovalBacking(proposal, backing, this.#roster());
    for (const party of this.#parties) {
      const verdict = evaluateProposal(party.policy, party.role, proposal, this.#evalContext());
      if (verdict.decision !== 'approve')
        refusals.push({ party: party.id, rule: verdict.rule, message: verdict.message });
      else if (!backed.ok) refusals.push({ party: party.id, rule: backed.rule, message: backed.message });
      else willing.push(party);
    }
    // A veto holder (quality assurance) is in every approval quorum; its refusal ends the approval,
    // and while it is down there is no quorum (as the session's `required` parties: the HTTP
    // coordinator). A party that is down neither signs nor refuses.
    const vetoIds = new Set(vetoHolders(this.#roster()).map((p) => p.id));
    const isVeto = (id: string) => vetoIds.has(id);
    const down = this.#parties.map((p) => p.id).filter((id) => this.#down(id));
    const answered = refusals.filter((r) => !down.includes(r.party));
    const vetoes = answered.filter((r) => isVeto(r.party));
    if (vetoes.length > 0) {
      throw quorumUnreachable(`vetoed by ${vetoes.map((v) => v.party).join(', ')}`, {
        refusals: answered,
        vetoes,
        unavailable_parties: down,
      });
    }
    const vetoDown = down.filter(isVeto);
    if (vetoDown.length > 0) {
      throw quorumUnreachable(
        `required ${vetoDown.length === 1 ? 'party' : 'parties'} ${vetoDown.join(', ')} did not answer`,
        { refusals: answered, unavailable_parties: down, required_unavailable: vetoDown },
      );
    }
    willing.sort((a, b) => Number(isVeto(b.id)) - Number(isVeto(a.id)));
    return this.#sign(willing, refusals, () => proposalSigningBytes(proposal));
  }

  async signEvidence(input: { statement: unknown; transcript: SignedEnvelope[] }): Promise<ThresholdResult> {
    // Every in-process party runs the same check on the same bytes (the party node's own), so it
    // runs once for all.
    const checked = checkEvidenceForSigning({
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      payload: canonicalBytes(input.statement),
      transcript: input.transcript,
      roster: verifierRoster(this.trustedKeys()),
      // The roster's roles: a party's envelopes must be its role's outputs (evidence.transcript).
      roles: Object.fromEntries(this.#roster().parties.map((p) => [p.id, p.role])),
      ciphersuite: this.#suiteId,
      groupPublicKey: this.#publicPackage.groupPublicKey,
      threshold: this.#publicPackage.threshold,
    });
    if (!checked.ok) {
      const { rule, message } = checked;
      // No party is willing, so this refuses before it would ask for the message.
      return this.#sign(
        [],
        this.#parties.map((p) => ({ party: p.id, rule, message })),
        () => new Uint8Array(),
      );
    }
    // A party signs evidence only when the Statement names it (the party node's evidence.signers),
    // so only the named ones are asked.
    const named = this.#parties.filter((p) => checked.signers.includes(p.id));
    return this.#sign(named, [], () => checked.message);
  }

  async signCheckpoint(input: CheckpointSubject): Promise<ThresholdResult> {
    const body = formatCheckpoint({
      origin: input.origin,
      size: input.treeSize,
      rootHash: input.rootHash,
      extensions: [],
    });
    const proposed = { size: input.treeSize, root: input.rootHash, consistency: input.consistency };
    const refusals: PartyRefusal[] = [];
    const willing: LocalParty[] = [];
    // Each party decides as a party node does (`PartyStore.claimCheckpoint`), against its own last.
    for (const party of this.#parties) {
      const decision = decideCheckpoint(party.checkpoints.get(input.origin), proposed);
      if (decision.ok) willing.push(party);
      else {
        const { rule, message, signed_size } = decision;
        refusals.push({ party: party.id, rule, message, signed_size });
      }
    }
    const result = await this.#sign(willing, refusals, () => new TextEncoder().encode(body));
    const signed = { size: input.treeSize, rootHex: bytesToHex(input.rootHash) };
    for (const party of this.#parties) {
      if (result.signers.includes(party.id)) party.checkpoints.set(input.origin, signed);
    }
    return result;
  }

  /** Each party decides by its own `unseal` policy, with the party node's own handler. */
  async releaseSealed({
    request,
    record,
    fields,
    detectors,
  }: ReleaseSealedInput): Promise<PartyReleaseAnswer[]> {
    const roster = this.#roster();
    const group = {
      groupPublicKey: this.#publicPackage.groupPublicKey,
      threshold: this.#publicPackage.threshold,
      ciphersuite: this.#suiteId,
    };
    // One record check for all: every in-process party trusts the same roster and group key.
    const requestRecord = createRequestRecordChecker({ roster, group: () => group });
    const requestId = String((request as { request_id?: unknown })?.request_id ?? '');
    const logger = createLogger({ component: 'party', level: 'error', write: () => undefined });
    const out: PartyReleaseAnswer[] = [];
    for (const [i, party] of this.#parties.entries()) {
      const release = createUnsealHandler({
        roster,
        self: roster.parties[i]!,
        identity: party.identity,
        policy: party.policy,
        logger,
        now: this.#now,
        requestRecord,
        store: {
          rememberRequest: async (id) => {
            if (party.seen.has(id)) return false;
            party.seen.add(id);
            return true;
          },
          audit: async (entry) => {
            party.audit.push(entry);
          },
        },
      });
      try {
        const answer = await release(
          requestId,
          { request, request_record: record, fields, detectors },
          this.#gateway.id,
        );
        out.push({ party: party.id, outcome: 'answered', ...answer });
      } catch (e) {
        if (e instanceof PolicyRefusal) out.push({ party: party.id, outcome: 'refused', rule: e.rule });
        else if (e instanceof AapsError) out.push({ party: party.id, outcome: 'unavailable', code: e.code });
        else throw e;
      }
    }
    return out;
  }

  /** A party's audit trail (unseal decisions), for tests. */
  auditTrail(partyId: string): readonly AuditEntry[] {
    return this.#parties.find((p) => p.id === partyId)?.audit ?? [];
  }

  #roster(): Roster {
    const pub = this.#publicPackage;
    return {
      version: 1,
      ciphersuite: this.#suiteId,
      threshold: { min: pub.threshold.min, max: pub.threshold.max },
      parties: this.#parties.map((p, i) => ({
        id: p.id,
        role: p.role,
        department: p.role,
        url: `local://${p.id}`,
        identity_key: bytesToHex(p.identity.publicKey),
        index: i + 1,
      })),
      gateway: this.#gateway,
      approvers: this.#approvers,
    };
  }

  #evalContext() {
    const approvers = this.#approvers;
    return {
      now: this.#now().getTime(),
      verifyHumanApproval: (a: Parameters<typeof verifyHumanApproval>[1]) =>
        verifyHumanApproval(approvers, a),
    };
  }

  async #sign(
    asked: LocalParty[],
    answered: PartyRefusal[],
    message: () => Uint8Array,
  ): Promise<ThresholdResult> {
    const k = this.#publicPackage.threshold.min;
    // A party that is down neither signs nor refuses.
    const down = [...asked.map((p) => p.id), ...answered.map((r) => r.party)].filter((id) => this.#down(id));
    const willing = asked.filter((p) => !down.includes(p.id));
    const refusals = answered.filter((r) => !down.includes(r.party));
    const unavailable = down.map((party) => ({ party, code: 'UNAVAILABLE' }));
    if (willing.length < k) {
      throw quorumUnreachable(`${willing.length} of ${k} needed parties would sign`, {
        refusals,
        unavailable_parties: down,
      });
    }
    const suite = getCiphersuite(this.#suiteId);
    const quorum = willing.slice(0, k);
    const msg = message();
    const nonces = quorum.map((p) => commit(suite, p.keyPackage));
    const pkg = { commitments: nonces.map((n) => n.commitment), message: msg };
    const shares = quorum.map((p, i) => signShare(suite, p.keyPackage, nonces[i]!, pkg, this.#publicPackage));
    const signature = aggregate(suite, pkg, shares, this.#publicPackage);
    return { signature, signers: quorum.map((p) => p.id), refusals, misbehaved: [], unavailable };
  }
}
