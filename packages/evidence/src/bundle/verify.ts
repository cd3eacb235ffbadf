/**
 * Offline verification of an evidence bundle: bytes and keys in, never files or network.
 *
 * Checks run in a fixed order (see {@link EVIDENCE_CHECKS}) and the first failure throws a
 * `VerificationError` whose `check` names it. The group key always comes from the caller (an
 * `--key` or a trusted root), never from the bundle alone.
 */
import { ValidationError, VerificationError } from '@aaps/mpc-core/verifier';
import { checkAggregationBinding, checkSignedAggregation, citedAggregation } from '../aggregation-binding.js';
import { checkApprovals } from '../approval.js';
import {
  assertNoFork,
  type Checkpoint,
  type NoteKey,
  openCheckpoint,
  peekOrigin,
  type SignedCheckpoint,
} from '../checkpoint.js';
import { IN_TOTO_PAYLOAD_TYPE, pae } from '../dsse.js';
import { bytesEqual, parseHex, toHex } from '../encoding.js';
import { EVIDENCE_CHECKS, type EvidenceCheck, fail } from '../errors.js';
import {
  ED25519_SUITE,
  type EvidenceCiphersuite,
  isValidPublicKeyLength,
  keyIdOf,
  verifyGroupSignature,
} from '../keys.js';
import { logLeafHash } from '../log-leaf.js';
import { NodeHashMemo, verifyConsistency, verifyInclusion } from '../merkle.js';
import {
  type JsonObject,
  parseStatement,
  rosterErrors,
  rosterHoldsKey,
  type Statement,
  signerListProblem,
  subjectName,
  type Threshold,
  type VerifierRoster,
} from '../statement.js';
import { type CanonicalTranscript, canonicalTranscript, verifyTranscript } from '../transcript.js';
import {
  checkTranscriptAuthority,
  checkTranscriptOutcome,
  type PartyRoles,
} from '../transcript-authority.js';
import { checkTranscriptEnding } from '../transcript-ending.js';
import { type DecodedBundle, validateBundle } from './validate.js';

export interface PriorCheckpoint {
  /** A signed checkpoint note the verifier saw earlier (or later) from the same log. */
  note: string;
  /** RFC 9162 consistency proof between the smaller and the larger of the two tree sizes. */
  consistencyProof?: Uint8Array[];
  /**
   * Consistency proofs by tree sizes, for bundles under several checkpoints (a directory or a
   * stream): each bundle uses the one from the smaller to the larger of its checkpoint's size and
   * this note's. Taken before `consistencyProof` when given.
   */
  consistencyProofs?: readonly ConsistencyProof[];
}

/** An RFC 9162 consistency proof from tree size `first` to `second`, as `GET /v1/log/consistency` serves it. */
export interface ConsistencyProof {
  first: number;
  second: number;
  hashes: Uint8Array[];
}

export interface BundleVerifierOptions {
  /** The trusted group public key. */
  groupPublicKey: Uint8Array;
  /** The trusted group key's ciphersuite; `FROST-ED25519-SHA512-v1` when absent. */
  ciphersuite?: EvidenceCiphersuite;
  /** The trusted roster; when absent, the roster inside the signed predicate is used. */
  roster?: VerifierRoster;
  /**
   * Each party's role by id, when the verifier knows them (a roster.json names them; a Statement's
   * roster and a trusted root do not): a party then signs only its role's outputs. Without them a
   * party signs one role's outputs per transcript (`transcript.authority`).
   */
  partyRoles?: PartyRoles;
  /** The expected threshold, when the verifier knows it. */
  threshold?: Threshold;
  /** Keys trusted to sign checkpoints; by default the group key under the checkpoint's origin. */
  logKeys?: NoteKey[];
  /**
   * The trusted log's origin (a trusted root's `aaps.log.origin`): a checkpoint with another origin
   * line fails `log.checkpoint`, whoever signed it. Any origin when absent.
   */
  logOrigin?: string;
  /** Require a transparency-log entry (default true). */
  requireLog?: boolean;
  /** An earlier checkpoint the bundle's checkpoint must be consistent with. */
  priorCheckpoint?: PriorCheckpoint;
  /** Re-checks an aggregation record (mpc-core's `verifyAggregation`); throws if it does not hold. */
  verifyAggregation?: (record: JsonObject) => unknown;
}

export type CheckStatus = 'pass' | 'fail' | 'skip' | 'not_run';

export interface CheckResult {
  check: EvidenceCheck;
  status: CheckStatus;
  /** Why a check failed or was skipped. */
  message?: string;
}

export interface VerifiedBundle {
  statement: Statement;
  incidentId: string;
  logIndex?: number;
  treeSize?: number;
  checks: CheckResult[];
}

export interface BundleReport {
  valid: boolean;
  checks: CheckResult[];
  /** The first failed check. */
  failure?: { check: string; message: string; details: Readonly<Record<string, unknown>> };
  incidentId?: string;
  logIndex?: number;
  /**
   * How the incident ended, as the signed Statement states it (`predicate.incident.state`:
   * `resolved`, `rejected`, `failed`, `rolled_back`; the `transcript.outcome` check holds it to the transcript).
   * Only on a valid report, and absent when the Statement states none (bundles sealed before the
   * predicate stated the ending).
   */
  outcome?: string;
}

export interface BundleVerifier {
  /** Verify one bundle (a parsed JSON value); throws `VerificationError` naming the failed check. */
  verify(bundle: unknown): VerifiedBundle;
  /** Verify one bundle and report every check's status instead of throwing. */
  report(bundle: unknown): BundleReport;
  /** Whether one bundle is valid: the same checks as {@link report}, with nothing recorded. */
  check(bundle: unknown): boolean;
}

/**
 * What a caller learns as bundles verify besides each verdict. Kept apart from
 * {@link BundleVerifierOptions}, which crosses to worker threads and so holds no functions.
 */
export interface VerifierObserver {
  /**
   * A bundle's checkpoint passed `log.checkpoint` (its note verified under a trusted log key, with
   * the trusted origin), whatever the later checks say: a signed checkpoint is the log's word even
   * under an invalid bundle. `aaps-verify` keeps one root per origin and size from these to find a
   * fork across the bundles it verifies. A cached note yields the same object each time.
   */
  checkpoint?: (checkpoint: SignedCheckpoint) => void;
}

const CHECKPOINT_CACHE_LIMIT = 256;

/**
 * The report of a bundle that failed `check`: the checks already run (`ran`), then the failed one,
 * then every other check not run.
 */
export function failureReport(
  check: EvidenceCheck,
  message: string,
  details: Readonly<Record<string, unknown>>,
  ran: readonly CheckResult[] = [],
): BundleReport {
  const failed: CheckResult = { check, status: 'fail', message };
  const done = new Set(ran.map((c) => c.check));
  const rest = EVIDENCE_CHECKS.filter((c) => !done.has(c) && c !== check).map(
    (c): CheckResult => ({ check: c, status: 'not_run' }),
  );
  return { valid: false, checks: [...ran, failed, ...rest], failure: { check, message, details } };
}

class StepFailure extends Error {
  constructor(
    readonly error: VerificationError,
    /** The checks run before the failed one. */
    readonly ran: CheckResult[],
  ) {
    super(error.message);
  }
}

/**
 * Check options once and return a verifier for many bundles. Its two memos are sound by
 * construction. A checkpoint note whose signature verified is remembered by its exact text, and
 * the keys it is checked against are fixed for the verifier's life (the trusted log keys, or the
 * group key under the note's own origin line, which is part of that text), so a hit is the same
 * (note, key) pair already verified, and a note that differs anywhere is verified afresh. Bundles
 * written together share checkpoint notes, so a stream pays for each note once. Inclusion proofs
 * under one checkpoint share their upper path; a {@link NodeHashMemo} (a cache of the node hash
 * function, keyed by position and checked against both children) saves re-hashing it. Decoded public
 * keys (`node:crypto` KeyObjects) are cached by key bytes in mpc-core's `verifyEd25519`. Nothing
 * else is remembered: every DSSE and transcript signature, digest and proof is checked per bundle.
 * `observer` is told of each checkpoint that verified (see {@link VerifierObserver}).
 */
export function createBundleVerifier(
  options: BundleVerifierOptions,
  observer: VerifierObserver = {},
): BundleVerifier {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('INVALID_ARGUMENT', 'options: expected an object with groupPublicKey', [
      'options',
    ]);
  }
  const suite = options.ciphersuite ?? ED25519_SUITE;
  const groupKey = options.groupPublicKey;
  if (!(groupKey instanceof Uint8Array) || !isValidPublicKeyLength(suite, groupKey)) {
    throw new ValidationError('INVALID_ARGUMENT', `groupPublicKey is not a ${suite} public key`, [
      'groupPublicKey',
    ]);
  }
  const groupKeyHex = toHex(groupKey);
  if (options.roster !== undefined) {
    const errors = rosterErrors(options.roster, 'roster');
    if (errors.length > 0)
      throw new ValidationError('INVALID_ARGUMENT', `invalid roster: ${errors.join(', ')}`, errors);
    if (rosterHoldsKey(options.roster, groupKeyHex))
      throw new ValidationError(
        'INVALID_ARGUMENT',
        'invalid roster: a member or the gateway holds the group key itself, so one key could sign for the group',
        ['roster'],
      );
  }
  const groupKeyId = keyIdOf(groupKey);
  const group = { suite, publicKey: groupKey, publicKeyHex: groupKeyHex };
  const requireLog = options.requireLog ?? true;
  const noteType = suite === ED25519_SUITE ? 'ed25519' : 'bip340';
  const checkpoints = new Map<string, SignedCheckpoint>();
  const nodeHashes = new NodeHashMemo();

  const logKeysFor = (note: string): NoteKey[] =>
    options.logKeys ?? [{ name: peekOrigin(note) ?? '', type: noteType, publicKey: groupKey }];

  const openCached = (note: string): SignedCheckpoint => {
    const hit = checkpoints.get(note);
    if (hit !== undefined) return hit;
    const cp = openCheckpoint(note, logKeysFor(note));
    if (checkpoints.size >= CHECKPOINT_CACHE_LIMIT)
      checkpoints.delete(checkpoints.keys().next().value as string);
    checkpoints.set(note, cp);
    return cp;
  };

  /** Verify; `record` false skips the per-check records (for {@link BundleVerifier.check}). */
  const run = (input: unknown, record = true): VerifiedBundle => {
    const checks: CheckResult[] = [];
    const note = (check: EvidenceCheck, status: CheckStatus, message?: string) => {
      if (record) checks.push(message === undefined ? { check, status } : { check, status, message });
    };
    /**
     * Run one check; anything but a VerificationError it throws is charged to that check.
     * `outcomeOf` may attach a message to the pass, or say the check was skipped, and why.
     */
    const step = <T>(
      check: EvidenceCheck,
      body: () => T,
      outcomeOf?: (out: T) => string | { skip: string } | undefined,
    ): T => {
      let out: T;
      try {
        out = body();
      } catch (e) {
        const error =
          e instanceof VerificationError
            ? e
            : new VerificationError(check, `unexpected failure: ${(e as Error)?.message ?? String(e)}`, {
                cause: e,
              });
        throw new StepFailure(error, checks);
      }
      const outcome = outcomeOf?.(out);
      if (typeof outcome === 'object') note(check, 'skip', outcome.skip);
      else note(check, 'pass', outcome);
      return out;
    };

    const decoded = step('bundle.format', () => decodeBundle(input));
    const { bundle, envelope } = decoded;
    step('dsse.keyid', () => checkKeyId(decoded, suite, groupKey, groupKeyId));
    step('dsse.signature', () => {
      if (
        !verifyGroupSignature(
          suite,
          groupKey,
          pae(envelope.payloadType, envelope.payload),
          envelope.signatures[0]!.sig,
        )
      ) {
        fail('dsse.signature', 'DSSE signature does not verify under the group key');
      }
    });
    const statement = step('statement.format', () => openStatement(decoded, suite, groupKeyHex));
    const predicate = statement.predicate;
    const canonical = step('statement.subject', () => checkSubject(statement, bundle.transcript));
    const roster = options.roster ?? predicate.roster;
    step('transcript.signature', () => verifyTranscript(bundle.transcript, roster, canonical));
    step(
      'approval.signature',
      () => checkApprovals(bundle.transcript, predicate, group, roster),
      (checked) => (checked ? undefined : { skip: 'no ExecutionOrder in the transcript' }),
    );
    step('transcript.authority', () =>
      checkTranscriptAuthority(bundle.transcript, predicate, roster, options.partyRoles),
    );
    step('transcript.outcome', () => {
      checkTranscriptOutcome(bundle.transcript, predicate);
      checkTranscriptEnding(bundle.transcript, predicate, roster);
    });
    step('signers.threshold', () =>
      checkSigners(decoded, predicate.threshold, predicate.signers, roster, options.threshold),
    );
    step(
      'aggregation',
      () =>
        checkAggregation(bundle.aggregation, bundle.transcript, predicate, roster, options.verifyAggregation),
      (outcome) =>
        outcome === 'none'
          ? { skip: 'no aggregation record' }
          : outcome === 'bound'
            ? 'the record is the one the approval cites; no re-check function was supplied'
            : undefined,
    );

    const out: VerifiedBundle = { statement, incidentId: predicate.incident.id, checks };
    const log = decoded.log;
    if (log === undefined) {
      if (requireLog)
        step('log.inclusion', () => fail('log.inclusion', 'bundle has no transparency-log entry'));
      for (const c of ['log.checkpoint', 'log.inclusion', 'log.consistency'] as const)
        note(c, 'skip', 'no log entry');
      return out;
    }
    const checkpoint = step('log.checkpoint', () => {
      const cp = openCached(log.checkpoint);
      if (options.logOrigin !== undefined && cp.origin !== options.logOrigin) {
        fail(
          'log.checkpoint',
          `checkpoint origin ${cp.origin} is not the trusted log origin ${options.logOrigin}`,
          {
            origin: cp.origin,
            expected: options.logOrigin,
          },
        );
      }
      return cp;
    });
    observer.checkpoint?.(checkpoint);
    step('log.inclusion', () => {
      if (checkpoint.size !== log.treeSize) {
        fail('log.inclusion', 'treeSize is not the checkpoint size', {
          treeSize: log.treeSize,
          size: checkpoint.size,
        });
      }
      verifyInclusion(
        logLeafHash(bundle.dsseEnvelope, envelope.payload),
        log.logIndex,
        log.treeSize,
        log.inclusionProof,
        checkpoint.rootHash,
        nodeHashes,
      );
    });
    const prior = options.priorCheckpoint;
    if (prior === undefined) note('log.consistency', 'skip', 'no earlier checkpoint given');
    else step('log.consistency', () => checkConsistency(checkpoint, prior, openCached));
    out.logIndex = log.logIndex;
    out.treeSize = log.treeSize;
    return out;
  };

  return {
    verify(bundle) {
      try {
        return run(bundle);
      } catch (e) {
        throw e instanceof StepFailure ? e.error : e;
      }
    },
    check(bundle) {
      try {
        run(bundle, false);
        return true;
      } catch (e) {
        if (!(e instanceof StepFailure)) throw e;
        return false;
      }
    },
    report(bundle) {
      try {
        const ok = run(bundle);
        const report: BundleReport = { valid: true, checks: ok.checks, incidentId: ok.incidentId };
        if (ok.logIndex !== undefined) report.logIndex = ok.logIndex;
        const state = ok.statement.predicate.incident['state'];
        if (typeof state === 'string') report.outcome = state;
        return report;
      } catch (e) {
        if (!(e instanceof StepFailure)) throw e;
        return failureReport(e.error.check as EvidenceCheck, e.error.message, e.error.details, e.ran);
      }
    },
  };
}

function decodeBundle(input: unknown): DecodedBundle {
  try {
    return validateBundle(input);
  } catch (e) {
    const fields = (e as { fields?: readonly string[] }).fields ?? [];
    return fail('bundle.format', (e as Error).message, { fields }, e);
  }
}

function checkKeyId(
  decoded: DecodedBundle,
  suite: EvidenceCiphersuite,
  groupKey: Uint8Array,
  keyId: string,
): void {
  if (decoded.ciphersuite !== suite) {
    fail('dsse.keyid', `bundle ciphersuite ${decoded.ciphersuite} is not the trusted ${suite}`, {
      expected: suite,
      actual: decoded.ciphersuite,
    });
  }
  if (!bytesEqual(decoded.groupPublicKey, groupKey)) {
    fail('dsse.keyid', 'bundle names another group key than the trusted one', {
      expected: toHex(groupKey),
      actual: toHex(decoded.groupPublicKey),
    });
  }
  const { signatures } = decoded.envelope;
  if (signatures.length !== 1)
    fail('dsse.keyid', 'expected exactly one group signature', { expected: 1, actual: signatures.length });
  if (signatures[0]!.keyid !== keyId) {
    fail('dsse.keyid', 'signature key id is not the trusted group key id', {
      expected: keyId,
      actual: signatures[0]!.keyid,
    });
  }
}

function openStatement(decoded: DecodedBundle, suite: EvidenceCiphersuite, groupKeyHex: string): Statement {
  return openStatementPayload(decoded.envelope.payloadType, decoded.envelope.payload, suite, groupKeyHex);
}

/**
 * The `statement.format` check: an in-toto payload that is an AAPS incident Statement under the
 * given group key and ciphersuite (also what a party checks before it signs evidence).
 */
export function openStatementPayload(
  payloadType: string,
  payload: Uint8Array,
  suite: string,
  groupKeyHex: string,
): Statement {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    fail('statement.format', `payloadType must be ${IN_TOTO_PAYLOAD_TYPE}`, { fields: ['payloadType'] });
  }
  const statement = parseStatement(payload);
  if (statement.predicate.ciphersuite !== suite || statement.predicate.groupPublicKey !== groupKeyHex) {
    fail('statement.format', 'the predicate names another group key or ciphersuite', {
      fields: ['predicate.groupPublicKey'],
    });
  }
  if (rosterHoldsKey(statement.predicate.roster, groupKeyHex)) {
    fail('statement.format', 'a member of the predicate roster, or its gateway, holds the group key itself', {
      fields: ['predicate.roster'],
    });
  }
  return statement;
}

/**
 * The `statement.subject` check: the one subject names the incident and carries the transcript's
 * digest. Returns the transcript serialized once, for its signature checks.
 */
export function checkSubject(statement: Statement, transcript: readonly unknown[]): CanonicalTranscript {
  const subject = statement.subject[0]!;
  const expected = subjectName(statement.predicate.incident.id);
  if (subject.name !== expected)
    fail('statement.subject', 'subject does not name the incident', { expected, actual: subject.name });
  const canonical = canonicalTranscript(transcript);
  if (subject.digest.sha256 !== canonical.digestHex) {
    fail('statement.subject', "subject digest is not the transcript's digest", {
      expected: canonical.digestHex,
      actual: subject.digest.sha256,
    });
  }
  return canonical;
}

/**
 * The `aggregation` check: the record is the one the approved proposal cites (aggregation-binding.ts:
 * digest, session, pooled value, pinned circuit, n distinct parties), its digest is the one the
 * Statement signs, and, given a re-check function, it re-checks. Returns `none` when the bundle has
 * no record and nothing cites one, `bound` when the record was not re-checked (no function).
 */
function checkAggregation(
  record: JsonObject | undefined,
  transcript: readonly unknown[],
  predicate: Statement['predicate'],
  roster: VerifierRoster,
  recheck: BundleVerifierOptions['verifyAggregation'],
): 'none' | 'bound' | 'rechecked' {
  const cited = citedAggregation(transcript, predicate, roster);
  checkSignedAggregation(predicate, cited);
  checkAggregationBinding(record, cited, {
    ciphersuite: predicate.ciphersuite,
    threshold: predicate.threshold,
    roster,
  });
  if (record !== undefined && predicate.aggregation === null) {
    fail('aggregation', 'the bundle carries an aggregation record its Statement does not sign');
  }
  // Both digests were held to the cited `output_digest` above: the record is the one signed.
  if (record === undefined || predicate.aggregation === null) return 'none';
  if (recheck === undefined) return 'bound';
  try {
    recheck(record);
  } catch (e) {
    const inner = (e as { check?: unknown }).check;
    fail('aggregation', `aggregation record does not re-check: ${(e as Error).message}`, { inner }, e);
  }
  return 'rechecked';
}

/** Verify one bundle; see {@link createBundleVerifier} to verify many with cached keys. */
export function verifyBundle(bundle: unknown, options: BundleVerifierOptions): VerifiedBundle {
  return createBundleVerifier(options).verify(bundle);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkSigners(
  decoded: DecodedBundle,
  threshold: Threshold,
  signers: readonly string[],
  roster: VerifierRoster,
  expected: Threshold | undefined,
): void {
  const vm = decoded.bundle.verificationMaterial;
  if (vm.threshold.min !== threshold.min || vm.threshold.max !== threshold.max) {
    fail('signers.threshold', 'verificationMaterial.threshold differs from the signed predicate');
  }
  if (!sameList(vm.signers, signers))
    fail('signers.threshold', 'verificationMaterial.signers differ from the signed predicate');
  if (expected !== undefined && (expected.min !== threshold.min || expected.max !== threshold.max)) {
    fail(
      'signers.threshold',
      `threshold ${threshold.min}-of-${threshold.max} is not the expected ${expected.min}-of-${expected.max}`,
    );
  }
  if (threshold.min < 1 || threshold.min > threshold.max)
    fail('signers.threshold', 'threshold must satisfy 1 <= min <= max');
  if (roster.parties.length !== threshold.max) {
    fail('signers.threshold', `the roster has ${roster.parties.length} parties, not ${threshold.max}`);
  }
  const problem = signerListProblem(signers, roster, threshold);
  if (problem !== undefined)
    fail(
      'signers.threshold',
      problem.message,
      problem.unknown === undefined ? {} : { unknown: problem.unknown },
    );
}

function checkConsistency(
  current: SignedCheckpoint,
  prior: PriorCheckpoint,
  open: (note: string) => SignedCheckpoint,
): void {
  let older: Checkpoint;
  try {
    older = open(prior.note);
  } catch (e) {
    fail('log.consistency', `the earlier checkpoint does not verify: ${(e as Error).message}`, undefined, e);
  }
  if (older.origin !== current.origin) fail('log.consistency', 'the two checkpoints are from different logs');
  assertNoFork(older, current);
  if (older.size === current.size) return;
  const [a, b] = older.size < current.size ? [older, current] : [current, older];
  const listed = prior.consistencyProofs;
  const proof =
    listed === undefined
      ? prior.consistencyProof
      : listed.find((p) => p.first === a.size && p.second === b.size)?.hashes;
  if (proof === undefined) {
    fail(
      'log.consistency',
      listed === undefined
        ? 'checkpoints differ in size and no consistency proof was given'
        : `no consistency proof from tree size ${a.size} to ${b.size} was given`,
      { first: a.size, second: b.size },
    );
  }
  verifyConsistency(a.size, b.size, proof, a.rootHash, b.rootHash);
}

/** Parse a consistency proof as served (`{first, second, hashes: [hex]}`); `undefined` if malformed. */
export function parseConsistencyProof(value: unknown): ConsistencyProof | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { first, second, hashes } = value as Record<string, unknown>;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || !Array.isArray(hashes))
    return undefined;
  const decoded = hashes.map((h) => parseHex(h));
  if (!decoded.every((h) => h?.length === 32)) return undefined;
  return { first: first as number, second: second as number, hashes: decoded as Uint8Array[] };
}
