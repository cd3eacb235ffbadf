/**
 * `aaps unseal EVIDENCE_ID --reason TEXT [--field ID|PATH]... [--approver ID | --key FILE]
 * [--trusted-root FILE | --trust-served-root] [--out FILE] [--json]`: signs an unseal request with
 * a roster approver's key, posts it, and combines the released shares locally (docs/sealing.md).
 * Only this process ever sees the values. It signs only for the evidence typed: the bundle served
 * must hash (its log leaf) to EVIDENCE_ID, so the incident and fields the request names are that
 * evidence's; and it signs only for a bundle that verifies under a trusted root the approver holds
 * (`--trusted-root FILE`, else the one pinned at `<data-dir>/approvers/trusted_root.json`), whose
 * roster's party keys the releases are checked against. With neither it refuses (a usage error):
 * a gateway that is not the deployment's could otherwise serve a bundle and party keys of its own
 * making. A trusted root others can write is refused as ssh refuses a loose key file
 * (trusted-root-file.ts). `--trust-served-root` takes the served bundle as it is (the old behaviour, for a group
 * no trusted root can hold), and says so on stderr. Exit 0 when every field opened, 1 when one
 * could not, 2 on usage errors (a bad reason or id, a key file, trusted root or `--out` that
 * cannot be used, no trusted root), all found before anything is signed. `--out FILE` is replaced when at least one
 * field opened, and left as it was when none did; 130 / 143 when stopped by SIGINT / SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { MIN_UNSEAL_REASON } from '@aaps/agents';
import {
  type BundleVerifier,
  bundleLogLeaf,
  createBundleVerifier,
  decodeEnvelope,
  type EvidenceBundle,
  evidenceIdOfLeaf,
  parseJsonRefusingRepeats,
  parseTrustedRoot,
  trustedRootOptions,
} from '@aaps/evidence';
import {
  type AapsError,
  base64Decode,
  type FieldRelease,
  firstMessageLine,
  hexToBytes,
  isAapsError,
  openFields,
  ProtocolError,
  type RejectedRelease,
  ReleasedShareCodec,
  type SealedField,
  SealedFieldCodec,
  signUnsealRequest,
  ValidationError,
  VerificationError,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';
import { readJson } from './answer.js';
import { approverId, approverKeyPath, loadApproverKey, pinnedTrustedRootPath } from './approver-key.js';
import { takeOwnFlags } from './own-flags.js';
import { discardOnSignal, prepareSecretFile, type SecretFile } from './secret-file.js';
import { printError, reach, type SubmitIo } from './submit.js';
import { jsonLine, printable } from './terminal-text.js';
import { checkTrustedRootFile } from './trusted-root-file.js';
import { UsageError } from './usage-error.js';

export interface UnsealOptions {
  evidenceId: string;
  reason: string;
  /** Field ids or JSON pointers; empty: every sealed field of the evidence. */
  fields: string[];
  keyFile?: string;
  out?: string;
  json: boolean;
  /** Request validity (default 15 minutes). */
  validForMs?: number;
  /**
   * A `trusted_root.json` the approver keeps: the bundle must verify under it (as `aaps-verify
   * --trusted-root` checks it) before anything is signed, and its roster's party keys are the ones
   * releases are checked against.
   */
  trustedRoot?: string;
  /**
   * `--trust-served-root`: no trusted root; the served bundle's own roster and keys are taken as
   * they are (a gateway that is not the deployment's can then have the request signed against
   * keys of its own). Refused with `trustedRoot`.
   */
  trustServedRoot?: boolean;
}

/** The flags only `aaps unseal` takes, taken out of `argv` (`--field` may repeat). */
export function takeUnsealFlags(argv: readonly string[]): {
  rest: string[];
  fields: string[];
  reason?: string;
  keyFile?: string;
  out?: string;
  trustedRoot?: string;
  trustServedRoot: boolean;
  json: boolean;
} {
  const f = takeOwnFlags(argv, {
    switches: ['json', 'trust-served-root'],
    values: ['reason', 'key', 'out', 'trusted-root'],
    lists: ['field'],
  });
  const reason = f.values.get('reason');
  const keyFile = f.values.get('key');
  const out = f.values.get('out');
  const trustedRoot = f.values.get('trusted-root');
  return {
    rest: f.rest,
    fields: f.lists.get('field') ?? [],
    json: f.switches.has('json'),
    trustServedRoot: f.switches.has('trust-served-root'),
    ...(reason === undefined ? {} : { reason }),
    ...(keyFile === undefined ? {} : { keyFile }),
    ...(out === undefined ? {} : { out }),
    ...(trustedRoot === undefined ? {} : { trustedRoot }),
  };
}

/**
 * The verifier for `--trusted-root FILE` and the roster party keys it names (none when the root
 * holds no roster: the bundle's own, which the group signed, is used). A `UsageError` when the
 * file cannot be read, is no trusted root or others can change it (`checkTrustedRootFile`), found
 * before anything is signed.
 */
function trustedVerifier(
  file: string,
  label = '--trusted-root',
): { verifier: BundleVerifier; partyKeys?: Map<string, Uint8Array> } {
  checkTrustedRootFile(file, `unseal: ${label}`);
  let keys: ReturnType<typeof parseTrustedRoot>;
  const refuse = (why: string) => new UsageError(`unseal: ${label} ${printable(file)}: ${printable(why)}`);
  try {
    // A key given twice: JSON.parse keeps the last, another reader of the file (aaps-verify
    // refuses it; a person) the first, so the root would name two keys.
    const read = parseJsonRefusingRepeats(readFileSync(file, 'utf8'));
    if ('notJson' in read) throw refuse('not JSON');
    if ('repeated' in read) throw refuse(read.repeated.problem);
    keys = parseTrustedRoot(read.value);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw refuse(firstMessageLine(e));
  }
  const verifier = createBundleVerifier(trustedRootOptions(keys));
  return keys.roster === undefined ? { verifier } : { verifier, partyKeys: partyKeysOf(keys.roster) };
}

interface BundleView {
  incidentId: string;
  fields: SealedField[];
  /** The roster's parties' identity keys (the Statement's `predicate.roster`), by party id. */
  partyKeys: Map<string, Uint8Array>;
}

/** The longest `--reason` the gateway and the parties take (`parseUnsealRequest`). */
const MAX_REASON = 1024;

/**
 * Why `reason` cannot be an unseal request's reason (blank, too short for a party that requires
 * a reason, too long, not one line), or undefined. Checked before anything is signed or logged:
 * the request goes into the transparency log before the parties judge it.
 */
export function unsealReasonProblem(reason: string): string | undefined {
  if (reason.trim() === '') return 'needs a reason, not blank';
  if (reason.trim().length < MIN_UNSEAL_REASON)
    return `at least ${MIN_UNSEAL_REASON} characters: a party whose policy requires a reason (the default’s does) refuses a shorter one`;
  if (reason.length > MAX_REASON) return `at most ${MAX_REASON} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\u0000-\u001f\u007f]/.test(reason)) return 'one line, no control characters';
  return undefined;
}

/**
 * The evidence id of a bundle: the hex SHA-256 of its log leaf, as the gateway names it
 * (docs/api.md, "Evidence and the log"). A `ValidationError` when it has no DSSE envelope.
 */
export function evidenceIdOfBundle(bundle: unknown): string {
  const envelope = (bundle as { dsseEnvelope?: unknown } | null)?.dsseEnvelope;
  const { errors } = decodeEnvelope(envelope);
  if (errors.length > 0)
    throw new ValidationError('DECODE_FAILED', `not an evidence bundle (bad ${errors.join(', ')})`, errors);
  return evidenceIdOfLeaf(bundleLogLeaf(bundle as EvidenceBundle));
}

/**
 * The roster parties' identity keys a Statement's predicate names (`roster.parties`: `{id,
 * identity_key}` with a hex Ed25519 key); entries that are not so are left out, so a release in
 * their name is set aside unsigned.
 */
function partyKeysOf(roster: unknown): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  const parties = (roster as { parties?: unknown } | null | undefined)?.parties;
  for (const p of Array.isArray(parties) ? parties : []) {
    const { id, identity_key: key } = (p ?? {}) as { id?: unknown; identity_key?: unknown };
    if (typeof id === 'string' && typeof key === 'string' && /^[0-9a-f]{64}$/.test(key) && !keys.has(id))
      keys.set(id, hexToBytes(key));
  }
  return keys;
}

/** The incident id, sealed fields and parties' keys a bundle's statement carries. */
export function sealedFieldsOfBundle(bundle: unknown): BundleView {
  const payload = (bundle as { dsseEnvelope?: { payload?: unknown } })?.dsseEnvelope?.payload;
  if (typeof payload !== 'string')
    throw new ValidationError('DECODE_FAILED', 'not an evidence bundle', ['dsseEnvelope.payload']);
  let statement: {
    predicate?: { incident?: { id?: unknown; sealed_fields?: unknown }; roster?: unknown };
  } | null;
  try {
    statement = JSON.parse(new TextDecoder().decode(base64Decode(payload, 'payload')));
  } catch (cause) {
    const what = "the bundle's statement is not JSON";
    throw new ValidationError('DECODE_FAILED', what, ['dsseEnvelope.payload'], { cause });
  }
  const incident = statement?.predicate?.incident;
  if (typeof incident?.id !== 'string')
    throw new ValidationError('DECODE_FAILED', 'the statement names no incident', ['predicate.incident.id']);
  const wire = Array.isArray(incident.sealed_fields) ? incident.sealed_fields : [];
  return {
    incidentId: incident.id,
    fields: wire.map((f) => SealedFieldCodec.fromJSON(f)),
    partyKeys: partyKeysOf(statement?.predicate?.roster),
  };
}

/** What a check a release failed says about whom, for the line `aaps unseal` prints. */
const REJECTED_WHY: Record<RejectedRelease['check'], string> = {
  'sealed-field.release': 'its release does not open',
  'sealed-field.share-commitment': "its share does not match the field's commitment to it",
  'sealed-field.release.unknown-party': 'it holds no share of this field',
  'sealed-field.release.duplicate': 'it released two different shares',
  'sealed-field.share-inconsistent': '',
};

/**
 * The line for a release a field set aside (`opened`: the field still opened from the others). A
 * share off the others' polynomial that matches the commitment the sealer logged for it was dealt
 * so: the party released what it was given, and the line says the sealer is to blame, not the
 * party (only a field that opened tells such a share apart).
 */
function rejectedLine(path: string, r: RejectedRelease, opened: boolean): string {
  if (!opened)
    return `${path}: not opened, and ${r.party}'s release was set aside (${r.check}: ${REJECTED_WHY[r.check]})`;
  if (r.check === 'sealed-field.share-inconsistent')
    return `${path}: opened; ${r.party}'s share does not lie with the others (${r.check}): whoever sealed the field dealt it so; ${r.party} released the share the field commits to`;
  return `${path}: opened without ${r.party}'s release (${r.check}: ${REJECTED_WHY[r.check]})`;
}

/** The releases a field that did not open set aside (`details.rejected` of its error). */
function rejectedOf(e: AapsError): RejectedRelease[] {
  const list = e.details['rejected'];
  if (!Array.isArray(list)) return [];
  return list.filter(
    (r): r is RejectedRelease =>
      typeof (r as RejectedRelease)?.party === 'string' &&
      Object.hasOwn(REJECTED_WHY, (r as RejectedRelease).check),
  );
}

function why(e: AapsError): string {
  if (e instanceof VerificationError) return `${e.code} ${e.check}`;
  if (e instanceof ProtocolError && e.culprits.length > 0)
    return `${e.code} (culprits: ${e.culprits.join(', ')})`;
  const rejected = (e.details as { rejected?: { party: string; check: string }[] } | undefined)?.rejected;
  if (Array.isArray(rejected) && rejected.length > 0)
    return `${e.code} (${rejected.map((r) => `${r.party}: ${r.check}`).join(', ')})`;
  return e.code;
}

interface Refusal {
  field: string;
  party: string;
  decision?: string;
  rule: string | null;
}

/** The parties' refusals of one field, briefly: `refused by 5 parties: unseal.reason`. */
function refusalSummary(refusals: readonly Refusal[], field: string): string {
  const groups = new Map<string, { how: string; rule: string; n: number }>();
  for (const r of refusals) {
    if (r.field !== field) continue;
    const how = r.decision === undefined || r.decision === 'refused' ? 'refused by' : `${r.decision} at`;
    const rule = r.rule ?? 'no rule';
    const group = groups.get(`${how} ${rule}`) ?? { how, rule, n: 0 };
    group.n += 1;
    groups.set(`${how} ${rule}`, group);
  }
  return [...groups.values()]
    .map((g) => `${g.how} ${g.n} ${g.n === 1 ? 'party' : 'parties'}: ${g.rule}`)
    .join('; ');
}

/**
 * The trusted root a run holds the served bundle to: `--trusted-root FILE`, else the one pinned in
 * the data directory; none only for `--trust-served-root`. A `UsageError` when there is none.
 */
function trustFor(
  opts: UnsealOptions,
  config: GatewayConfig,
): ReturnType<typeof trustedVerifier> | undefined {
  if (opts.trustedRoot !== undefined) return trustedVerifier(opts.trustedRoot);
  if (opts.trustServedRoot === true) return undefined;
  const pinned = pinnedTrustedRootPath(config);
  if (existsSync(pinned)) return trustedVerifier(pinned, 'the trusted root pinned at');
  throw new UsageError(
    `unseal: no trusted root: pin your deployment's (GET /v1/trusted-root, its group key checked with the operator) at ${printable(pinned)}, or pass --trusted-root FILE`,
  );
}

export async function runUnseal(
  opts: UnsealOptions,
  config: GatewayConfig,
  token: string,
  io: SubmitIo,
): Promise<number> {
  const problem = unsealReasonProblem(opts.reason);
  if (problem !== undefined) throw new UsageError(`unseal: --reason: ${problem}`);
  if (!/^[0-9a-f]{64}$/.test(opts.evidenceId))
    throw new UsageError(
      `unseal: ${printable(JSON.stringify(opts.evidenceId))} is not an evidence id (64 lower-case hex characters)`,
    );
  if (opts.trustedRoot !== undefined && opts.trustServedRoot === true)
    throw new UsageError('unseal: --trusted-root FILE and --trust-served-root exclude each other');
  const approver = approverId(config, 'unseal');
  const key = loadApproverKey(approverKeyPath(config, approver, opts.keyFile));
  const trusted = trustFor(opts, config);
  if (trusted === undefined)
    printError(
      io,
      'aaps: warning: --trust-served-root: the bundle and party keys the gateway serves are taken as they are; a gateway that is not your deployment’s can have this request signed against keys of its own',
    );
  const out = opts.out === undefined ? undefined : prepareSecretFile(opts.out);
  const unwatch = out === undefined ? undefined : discardOnSignal(out);
  try {
    return await unseal(opts, config, token, io, approver, key, out, trusted);
  } finally {
    unwatch?.();
    out?.discard();
  }
}

async function unseal(
  opts: UnsealOptions,
  config: GatewayConfig,
  token: string,
  io: SubmitIo,
  approver: string,
  key: ReturnType<typeof loadApproverKey>,
  out: SecretFile | undefined,
  trusted: ReturnType<typeof trustedVerifier> | undefined,
): Promise<number> {
  const auth = { authorization: `Bearer ${token}` };
  const res = await reach(io, config.url, `/v1/evidence/${opts.evidenceId}`, {
    headers: { ...auth, accept: 'application/json' },
  });
  const got = await readJson(res);
  if (!got.ok) {
    printError(io, `aaps: cannot unseal ${opts.evidenceId}: ${got.failure}`);
    return 1;
  }
  let view: BundleView;
  try {
    const served = evidenceIdOfBundle(got.body);
    if (served !== opts.evidenceId) {
      printError(
        io,
        `aaps: not signed: the bundle the gateway served for ${opts.evidenceId} is evidence ${served}, not the one asked for`,
      );
      return 1;
    }
    if (trusted !== undefined) {
      const report = trusted.verifier.report(got.body);
      if (!report.valid) {
        printError(
          io,
          `aaps: not signed: the bundle the gateway served for ${opts.evidenceId} does not verify under the trusted root (${printable(
            `${report.failure?.check ?? 'unknown'}: ${report.failure?.message ?? ''}`,
          )})`,
        );
        return 1;
      }
    }
    view = sealedFieldsOfBundle(got.body);
  } catch (e) {
    if (!isAapsError(e)) throw e;
    printError(io, `aaps: cannot unseal ${opts.evidenceId}: ${printable(e.message)}`);
    return 1;
  }
  const wanted =
    opts.fields.length === 0
      ? view.fields
      : view.fields.filter((f) => opts.fields.includes(f.id) || opts.fields.includes(f.path));
  const missing = opts.fields.filter((w) => !view.fields.some((f) => f.id === w || f.path === w));
  if (missing.length > 0 || wanted.length === 0) {
    printError(
      io,
      missing.length > 0
        ? `aaps: no sealed field ${printable(missing.join(', '))} in ${opts.evidenceId}`
        : `aaps: ${opts.evidenceId} has no sealed fields`,
    );
    return 1;
  }
  const now = Date.now();
  const request = signUnsealRequest(
    {
      request_id: `ur-${randomUUID()}`,
      incident_id: view.incidentId,
      evidence_id: opts.evidenceId,
      fields: wanted.map((f) => f.id),
      requester: approver,
      reason: opts.reason,
      issued_at: new Date(now).toISOString(),
      expires_at: new Date(now + (opts.validForMs ?? 15 * 60_000)).toISOString(),
    },
    key.secretKey,
  );
  const posted = await reach(io, config.url, `/v1/evidence/${opts.evidenceId}/unseal`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ request }),
  });
  const sent = await readJson(posted);
  if (!sent.ok) {
    printError(io, `aaps: refused: ${sent.failure}`);
    return 1;
  }
  const answer = (typeof sent.body === 'object' && sent.body !== null ? sent.body : {}) as {
    releases?: { field: string; release: unknown }[];
    refusals?: Refusal[];
    evidence?: { request: string; releases: string };
  };
  const releases: FieldRelease[] = [];
  // The gateway's answer is not trusted for its shape either: an entry that is not an object is
  // set aside like a release that does not decode, never a TypeError.
  const isEntry = (r: unknown): r is Record<string, unknown> =>
    typeof r === 'object' && r !== null && !Array.isArray(r);
  for (const r of Array.isArray(answer.releases) ? answer.releases : []) {
    if (!isEntry(r) || typeof r.field !== 'string') continue;
    try {
      releases.push({ field: r.field, ...ReleasedShareCodec.fromJSON(r.release) });
    } catch (e) {
      if (!isAapsError(e)) throw e;
    }
  }
  const refusals = (Array.isArray(answer.refusals) ? answer.refusals : []).filter(
    (r): r is Refusal => isEntry(r) && typeof r.field === 'string',
  );
  const secret = x25519FromIdentitySecretKey(key.secretKey);
  let outcomes: Awaited<ReturnType<typeof openFields>>;
  try {
    // Only a release its party signed for this request is used, and only such a party can be named.
    outcomes = await openFields(wanted, releases, secret, {
      requestId: request.request_id,
      incidentId: view.incidentId,
      requester: approver,
      partyKeys: trusted?.partyKeys ?? view.partyKeys,
    });
  } finally {
    secret.wipe();
  }
  const values: Record<string, unknown> = {};
  const failed: { field: string; path: string; code: string; reason: string }[] = [];
  const unattributed = outcomes.flatMap((o) => o.unattributed.map(({ field, party }) => ({ field, party })));
  // Signed releases a field set aside: a party's bad release, or a share its sealer dealt; for a
  // field that did not open too (its error's details), so none goes unreported.
  const rejected: {
    field: string;
    path: string;
    party: string;
    check: RejectedRelease['check'];
    opened: boolean;
    named: boolean;
  }[] = [];
  for (const o of outcomes) {
    if ('opened' in o) {
      values[o.path] = o.opened.value;
      for (const r of o.opened.rejected)
        rejected.push({
          field: o.field,
          path: o.path,
          party: r.party,
          check: r.check,
          opened: true,
          named: false,
        });
    } else {
      failed.push({ field: o.field, path: o.path, code: o.error.code, reason: why(o.error) });
      // A QUORUM_UNREACHABLE line names these parties already.
      const named = o.error instanceof ProtocolError && o.error.culprits.length > 0;
      for (const r of rejectedOf(o.error))
        rejected.push({ field: o.field, path: o.path, party: r.party, check: r.check, opened: false, named });
    }
  }
  const opened = Object.keys(values);
  // Nothing opened: FILE keeps what it held (an earlier run's values), not `{}`.
  const written = out !== undefined && opened.length > 0;
  if (written) out.commit(`${JSON.stringify(values, null, 2)}\n`);
  if (opts.json) {
    io.print(
      jsonLine({
        request_id: request.request_id,
        evidence: answer.evidence ?? null,
        ...(opts.out === undefined ? { values } : { out: written ? opts.out : null }),
        opened,
        failed,
        refusals,
        unattributed,
        rejected: rejected.map(({ field, party, check }) => ({ field, party, check })),
      }),
    );
  } else {
    if (opts.out === undefined)
      for (const [path, v] of Object.entries(values)) io.print(`${printable(path)}: ${jsonLine(v)}`);
    else if (written) io.print(`${opened.length} field(s) written to ${printable(opts.out)} (mode 0600)`);
    else io.print(`nothing opened: ${printable(opts.out)} left as it was`);
    if (unattributed.length > 0)
      io.print(
        `set aside ${unattributed.length} release(s) without their party's signature for this request and this field as logged (${printable(
          [...new Set(unattributed.map((u) => u.party))].join(', '),
        )}): whoever relayed them made them, or showed the party another field; no party is blamed for them`,
      );
    for (const r of rejected) if (!r.named) io.print(printable(rejectedLine(r.path, r, r.opened)));
    for (const f of failed) {
      const refused = refusalSummary(refusals, f.field);
      io.print(
        `${printable(f.path)}: not opened: ${printable(f.reason)}${refused === '' ? '' : ` (${printable(refused)})`}`,
      );
    }
  }
  return failed.length === 0 ? 0 : 1;
}
