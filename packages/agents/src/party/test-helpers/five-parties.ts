/**
 * The five-party setup the in-process party tests share: a roster of the five roles with fresh
 * identity keys, and the `PartyDeps` of one of its parties on its own LevelDB (no ports).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildBundleStatement, evidenceSigningMessage, IN_TOTO_PAYLOAD_TYPE } from '@aaps/evidence';
import {
  base64Encode,
  bytesToHex,
  canonicalBytes,
  generateIdentityKey,
  getCiphersuite,
  type IdentityKey,
  type KeyPackage,
  loadFastBackends,
  PolicyRefusal,
  type PublicKeyPackage,
  Round1CommitmentBatchCodec,
  SCHEMA_VERSION,
  type SealedField,
  SecretBytes,
  SignatureShareCodec,
  type SignedEnvelope,
  type SigningPackage,
  SigningPackageCodec,
  sealPayload,
  signEnvelope,
  trustedDealer,
  x25519FromIdentityPublicKey,
} from '@aaps/mpc-core';
import { createAdaptorServer } from '@hono/node-server';
import { callSigner } from '../../call-auth.js';
import { PartyClient } from '../../client.js';
import { PARTY_DEFAULTS, type PartyConfig } from '../../config.js';
import { memoryLogger } from '../../logger.js';
import { defaultPolicy } from '../../policy/defaults.js';
import { type ApprovalProposal, proposalSigningBytes } from '../../policy/proposal.js';
import { PARTY_ROLES } from '../../policy/roles.js';
import type { DepartmentRiskView, Policy } from '../../policy/schema.js';
import { type Roster, rosterDigest } from '../../roster.js';
import { makeErrorAnswer, makeRequest, type RpcKind } from '../../rpc.js';
import { PartyStore } from '../../store/level.js';
import { createPartyApp, type PartyApp } from '../app.js';
import type { PartyDeps } from '../context.js';
import { rosterParticipants } from '../key-roster.js';
import { ChannelKeys, type SignedDealing, sealShares } from '../routes/aggregation.js';
import { verifierRoster } from '../routes/sign.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');

/** The five party roles, in roster order. */
export const ROLES = PARTY_ROLES;

export interface FiveParties {
  roster: Roster;
  keys: IdentityKey[];
  gatewayKey: IdentityKey;
}

/**
 * `secret` sealed at `/secret` of incident `incidentId` to `set`'s five parties (each party's X25519
 * key from its identity key), 3-of-5: the one sealed field.
 */
export async function sealedSecret(
  set: FiveParties,
  incidentId: string,
  secret: unknown,
): Promise<SealedField> {
  const sealed = await sealPayload({ secret }, ['/secret'], {
    incidentId,
    parties: set.roster.parties.map((p, i) => ({
      id: p.id,
      x25519PublicKey: x25519FromIdentityPublicKey(set.keys[i]!.publicKey),
    })),
    threshold: 3,
  });
  return sealed.fields[0]!;
}

/** Parties `<role>-agent` at `url(i)` (default `http://party-i.test`), 3-of-5, with `approvers`. */
export function fiveParties(
  opts: { url?: (i: number) => string; approvers?: { id: string; key: IdentityKey }[] } = {},
): FiveParties {
  const keys = ROLES.map(() => generateIdentityKey());
  const gatewayKey = generateIdentityKey();
  const roster: Roster = {
    version: 1,
    ciphersuite: 'FROST-ED25519-SHA512-v1',
    threshold: { min: 3, max: 5 },
    parties: ROLES.map((role, i) => ({
      id: `${role}-agent`,
      role,
      department: role,
      url: opts.url?.(i) ?? `http://party-${i}.test`,
      identity_key: bytesToHex(keys[i]!.publicKey),
      index: i + 1,
    })),
    gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
    approvers: (opts.approvers ?? []).map((a) => ({ id: a.id, identity_key: bytesToHex(a.key.publicKey) })),
  };
  return { roster, keys, gatewayKey };
}

/**
 * Party `i`'s dependencies on a fresh LevelDB under `dir` (opened stores are pushed to `stores`
 * for the caller to close). The policy defaults to the role's default policy.
 */
export async function partyDeps(
  set: FiveParties,
  i: number,
  opts: { dir: string; stores: PartyStore[]; policy?: Policy; rosterDigest?: string },
): Promise<PartyDeps> {
  const self = set.roster.parties[i]!;
  const store = await PartyStore.open(
    join(opts.dir, `p${i}-${opts.stores.length}`),
    new SecretBytes(new Uint8Array(randomBytes(32))),
    self.id,
  );
  opts.stores.push(store);
  return {
    config: {
      ...PARTY_DEFAULTS,
      id: self.id,
      dataDir: '',
      rosterPath: '',
      identityKeyPath: '',
      dataKeyPath: '',
    } as PartyConfig,
    roster: set.roster,
    rosterDigest: opts.rosterDigest ?? rosterDigest(set.roster),
    self,
    identity: set.keys[i]!,
    store,
    policy: opts.policy ?? defaultPolicy(ROLES[i]!),
    logger: memoryLogger('party'),
    suite: getCiphersuite('FROST-ED25519-SHA512-v1'),
  };
}

/** Store party `i`'s key package from a trusted dealing over `set`'s roster (as a DKG would leave it). */
export async function saveDealtKey(
  store: PartyStore,
  set: FiveParties,
  dealt: { keyPackages: readonly KeyPackage[]; publicPackage: PublicKeyPackage },
  i: number,
): Promise<void> {
  await store.saveKey({
    keyPackage: dealt.keyPackages[i]!,
    publicPackage: dealt.publicPackage,
    rosterDigest: rosterDigest(set.roster),
    createdAt: new Date().toISOString(),
    participants: rosterParticipants(set.roster),
  });
}

/** A key set as a trusted dealer (or a refresh) leaves it: every party's key package, and the public package. */
type DealtKeys = { keyPackages: readonly KeyPackage[]; publicPackage: PublicKeyPackage };

/**
 * Five party apps of `set` in process, party `i` holding its share of `keysOf(i)` (none when
 * `undefined`: a party that lost its share, or never had one), each on a fresh store in `opts.dir`.
 * `configure` may change a party's deps (its config, say) before its app is made.
 */
export async function partyAppsWithKeys(
  set: FiveParties,
  keysOf: (i: number) => DealtKeys | undefined,
  opts: { dir: string; stores: PartyStore[]; configure?: (i: number, deps: PartyDeps) => void },
): Promise<{ apps: PartyApp[]; deps: PartyDeps[] }> {
  const apps: PartyApp[] = [];
  const deps: PartyDeps[] = [];
  for (let i = 0; i < 5; i++) {
    const d = await partyDeps(set, i, opts);
    opts.configure?.(i, d);
    const keys = keysOf(i);
    if (keys !== undefined) await saveDealtKey(d.store, set, keys, i);
    deps.push(d);
    apps.push(await createPartyApp(d));
  }
  return { apps, deps };
}

/**
 * Five party apps in process holding one trusted dealer's Ed25519 key set, and a client that
 * reaches them through `app.request` (the sign route tests' set-up). `configure` may change a
 * party's deps (its config, say) before its app is made.
 */
export async function dealtPartyApps(opts: {
  dir: string;
  stores: PartyStore[];
  configure?: (i: number, deps: PartyDeps) => void;
}): Promise<{
  set: FiveParties;
  apps: PartyApp[];
  client: PartyClient;
  groupPublicKey: Uint8Array;
  /** The dealt key: every party's key package, and the public package they hold. */
  dealt: { keyPackages: readonly KeyPackage[]; publicPackage: PublicKeyPackage };
}> {
  const set = fiveParties();
  const dealt = trustedDealer(getCiphersuite('FROST-ED25519-SHA512-v1'), set.roster.threshold);
  const { apps } = await partyAppsWithKeys(set, () => dealt, opts);
  return {
    set,
    apps,
    client: inProcessClient(set, apps),
    groupPublicKey: dealt.publicPackage.groupPublicKey,
    dealt,
  };
}

/**
 * The gateway's client of `set`'s parties, each answered by its app in `apps` (same order), no
 * ports. `intercept` may answer a request (its path and init) instead of party `index`'s app (a
 * party down for one route, a lost answer): return a Response, or undefined to let the app answer.
 * An error answer it returns is signed as party `index`'s (`signedAsParty`).
 */
export function inProcessClient(
  set: FiveParties,
  apps: readonly PartyApp[],
  opts: {
    intercept?: (index: number, path: string, init: RequestInit | undefined) => Response | undefined;
    timeoutMs?: number;
    /** The gateway's clock (its calls' timestamps), for parties whose clock is moved on. */
    now?: () => Date;
  } = {},
): PartyClient {
  const indexOf = new Map(set.roster.parties.map((p, i) => [new URL(p.url).origin, i]));
  return new PartyClient({
    roster: set.roster,
    caller: { id: 'gateway', key: set.gatewayKey },
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
    fetch: async (input, init) => {
      const url = new URL(String(input));
      const i = indexOf.get(url.origin)!;
      const intercepted = opts.intercept?.(i, url.pathname, init);
      // An intercepted error answer stands for party i's own: signed by it for this request.
      if (intercepted !== undefined) return signedAsParty(set, i, String(init?.body), intercepted);
      return apps[i]!.app.request(url.pathname, init);
    },
  });
}

/**
 * The strategy party's signed `ApprovalDecision` deciding `needs_human` on `proposal` for
 * `incident` (as the gateway puts it in a transcript), under `set`'s strategy identity key.
 */
export function strategyDecision(
  set: FiveParties,
  incident: string,
  proposal: unknown,
  reason: string,
): SignedEnvelope {
  const strategy = set.roster.parties.findIndex((x) => x.role === 'strategy');
  return signEnvelope(
    {
      meta: {
        trace_id: `trace-${incident}`,
        span_id: `span-${incident}`,
        timestamp: '2026-11-26T12:00:00Z',
        source_agent: set.roster.parties[strategy]!.id,
        target_agent: 'gateway',
        message_type: 'ApprovalDecision',
        schema_version: SCHEMA_VERSION,
        idempotency_key: `idem-${incident}`,
      },
      context: {
        namespace: 'shop',
        cluster: 'prod-eu-1',
        urgency: 'P2',
        constraints_ref: 'policy://risk-management/v1',
      },
      payload: { incident_id: incident, decision: 'needs_human', reason, proposal } as never,
    },
    set.keys[strategy]!.secretKey,
  ) as SignedEnvelope;
}

/**
 * The canonical bytes of the evidence Statement of an incident strategy gave to a person (no
 * action): its `transcript`, the decision on `proposal` (pooled when `aggregation`, the record's
 * JSON form, is given), `signers` (party ids) and `set`'s roster under `groupPublicKey`, 3 of 5.
 */
export function needsHumanStatement(
  set: FiveParties,
  opts: {
    incident: string;
    proposal: ApprovalProposal;
    transcript: unknown[];
    signers: readonly string[];
    groupPublicKey: Uint8Array;
    aggregation?: unknown;
  },
): Uint8Array {
  const statement = buildBundleStatement({
    incident: { id: opts.incident, type: 'crashloop' },
    decision: {
      outcome: 'needs_human',
      proposal_digest: opts.proposal.proposal_digest,
      pooled: opts.aggregation !== undefined,
    },
    action: null,
    humanApprovals: [],
    verification: null,
    times: { received: '2026-11-26T12:00:00Z' },
    transcript: opts.transcript,
    ciphersuite: 'FROST-ED25519-SHA512-v1',
    groupPublicKey: opts.groupPublicKey,
    threshold: { min: 3, max: 5 },
    signers: [...opts.signers],
    roster: verifierRoster(set.roster),
    ...(opts.aggregation === undefined ? {} : { aggregation: opts.aggregation }),
  } as never);
  return canonicalBytes(statement);
}

/**
 * Party `partyId`'s round two of an evidence signing over the Statement `payload` (canonical bytes)
 * with its `transcript`, in a signing package of `commitments`, as the gateway asks for it.
 */
export async function evidenceRoundTwo(
  client: PartyClient,
  partyId: string,
  session: string,
  commitments: SigningPackage['commitments'],
  payload: Uint8Array,
  transcript: unknown[],
) {
  const out = await client.call<{ share: unknown }>(partyId, 'sign.round2', session, {
    signing_package: SigningPackageCodec.toJSON(suite.id, {
      commitments,
      message: evidenceSigningMessage(payload),
    }),
    subject: {
      kind: 'evidence',
      payload_type: IN_TOTO_PAYLOAD_TYPE,
      payload: base64Encode(payload),
      transcript,
    },
  });
  return SignatureShareCodec.fromJSON(out.share, suite.id).value;
}

/**
 * Each of `signers`' (party ids) round two of an approval of `proposal` with `backing`, after
 * their round one in session `session`, as the gateway asks for them: `signed`, or the rule the
 * party refused under (`error: ...` for anything else).
 */
export async function approvalRoundTwo(
  client: PartyClient,
  signers: readonly string[],
  session: string,
  proposal: ApprovalProposal,
  backing: unknown,
): Promise<string[]> {
  const commitments = await Promise.all(
    signers.map(async (party) => {
      const drawn = await client.call<{ commitments: unknown }>(party, 'sign.commit', session, { count: 1 });
      return Round1CommitmentBatchCodec.fromJSON(drawn.commitments, suite.id).value.commitments[0]!;
    }),
  );
  const signing_package = SigningPackageCodec.toJSON(suite.id, {
    commitments,
    message: proposalSigningBytes(proposal),
  });
  return Promise.all(
    signers.map((party) =>
      client
        .call(party, 'sign.round2', session, {
          signing_package,
          subject: { kind: 'approval', proposal, backing },
        })
        .then(
          () => 'signed',
          (e: unknown) => (e instanceof PolicyRefusal ? e.rule : `error: ${String(e)}`),
        ),
    ),
  );
}

/**
 * `dealer`'s signed `agg.deal` answer `body` with its boxes for `receivers` (roster indexes)
 * sealed again under another pair's channel key (quality assurance's, index 3): still signed by the
 * dealer, so every check the coordinator can make passes, and they never open.
 */
export function withDarkBoxes(
  set: FiveParties,
  dealer: number,
  receivers: readonly number[],
  sessionId: string,
  body: Record<string, unknown>,
): Record<string, unknown> {
  const { roster, keys } = set;
  const payload = (body.dealing as SignedDealing).payload;
  const wrong = new ChannelKeys(keys[3]!, roster.parties[3]!.id);
  const sealed = (body.sealed as { party: string }[]).map((item) => {
    const r = roster.parties.findIndex((p) => p.id === item.party);
    if (!receivers.includes(r)) return item;
    return sealShares({
      identity: keys[dealer]!,
      channels: wrong,
      session: sessionId,
      dealer: roster.parties[dealer]!.id,
      receiver: roster.parties[r]!,
      rosterDigest: rosterDigest(roster),
      payload,
      shares: [],
    });
  });
  return { ...body, sealed };
}

/** A loopback HTTP server that answers with whatever handler is set for it later. */
export type LoopbackServer = ReturnType<typeof createAdaptorServer>;

/**
 * `count` servers on free loopback ports (pushed to `servers`, for the caller to close), for
 * party apps that must be reached over real HTTP (the gateway's own coordinator): each answers with
 * `handlers[i]`, which the caller sets once the apps exist (their roster needs the ports first).
 */
export async function loopbackPorts(
  count: number,
  servers: LoopbackServer[],
): Promise<{ ports: number[]; handlers: ((req: Request) => Promise<Response>)[] }> {
  const ports: number[] = [];
  const handlers: ((req: Request) => Promise<Response>)[] = [];
  for (let i = 0; i < count; i++) {
    const server = createAdaptorServer({ fetch: (req: Request) => handlers[i]!(req) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    servers.push(server);
    ports.push((server.address() as AddressInfo).port);
  }
  return { ports, handlers };
}

/**
 * Five party apps on their own loopback ports (the gateway's HTTP coordinator reaches them over
 * real HTTP): the roster names the ports, `prepare` runs on each party's deps before its app is
 * made (a dealt key saved, ...), and each port answers with `handlers[i]`, which the caller sets
 * (pass-through, or a crash or a saboteur in front of `apps[i]`).
 */
export async function loopbackParties(opts: {
  dir: string;
  stores: PartyStore[];
  servers: LoopbackServer[];
  prepare?: (deps: PartyDeps, i: number, set: FiveParties) => Promise<void>;
}): Promise<{
  set: FiveParties;
  deps: PartyDeps[];
  apps: PartyApp[];
  handlers: ((req: Request) => Promise<Response>)[];
}> {
  const { ports, handlers } = await loopbackPorts(5, opts.servers);
  const set = fiveParties({ url: (i) => `http://127.0.0.1:${ports[i]}` });
  const deps: PartyDeps[] = [];
  const apps: PartyApp[] = [];
  for (let i = 0; i < 5; i++) {
    const d = await partyDeps(set, i, { dir: opts.dir, stores: opts.stores });
    await opts.prepare?.(d, i, set);
    deps.push(d);
    apps.push(await createPartyApp(d));
  }
  return { set, deps, apps, handlers };
}

/**
 * Five party apps whose policies carry `views[i]` as party i's private risk view (`undefined`: its
 * role's default), after loading the fast group backends (the pooled-risk tests' set-up).
 */
export async function riskViewApps(
  set: FiveParties,
  opts: { dir: string; stores: PartyStore[] },
  views: readonly (DepartmentRiskView | undefined)[],
): Promise<PartyApp[]> {
  await loadFastBackends();
  return Promise.all(
    ROLES.map(async (role, i) => {
      const view = views[i];
      const policy = { ...defaultPolicy(role), ...(view ? { risk: view } : {}) };
      return createPartyApp(await partyDeps(set, i, { ...opts, policy }));
    }),
  );
}

/** A party's answer to {@link coordinatorCall}: its status, the body of its reply, its error. */
export interface PartyAnswer {
  status: number;
  body: Record<string, unknown>;
  error?: { code: string; message: string; culprits?: string[] };
}

/**
 * A protocol call to `apps[i]` through `app.request`, as the coordinator makes it: the request
 * envelope signed by `from` (the gateway unless said), under the coordinator's call header (its
 * transport), so a test reaches what the envelope checks refuse.
 */
export async function coordinatorCall(
  set: FiveParties,
  apps: readonly { app: { request: (path: string, init: RequestInit) => Response | Promise<Response> } }[],
  i: number,
  kind: RpcKind,
  session: string,
  body: Record<string, unknown>,
  from: { id: string; key: IdentityKey } = { id: 'gateway', key: set.gatewayKey },
): Promise<PartyAnswer> {
  const to = set.roster.parties[i]!.id;
  const env = makeRequest(from, to, kind, session, body, { trace_id: 't' });
  const path = kind === 'batch' ? '/v1/batch' : `/v1/${kind.replace('.', '/')}`;
  const text = JSON.stringify(env);
  const res = await apps[i]!.app.request(path, {
    method: 'POST',
    headers: callSigner({ id: 'gateway', key: set.gatewayKey }, set.roster.parties).headers(to, path, text),
    body: text,
  });
  const json = (await res.json()) as {
    payload?: { body: Record<string, unknown> };
    error?: PartyAnswer['error'];
  };
  return { status: res.status, body: json.payload?.body ?? {}, ...(json.error ? { error: json.error } : {}) };
}

/**
 * Party `i`'s error answer (`status`, `body`: `{error:{code,message,...}}`) to the request whose
 * JSON text is `requestText`, signed by its identity key as a party signs one (`makeErrorAnswer`):
 * what the party itself says, for a fake party's error.
 */
export function partyErrorResponse(
  set: FiveParties,
  i: number,
  requestText: string,
  status: number,
  body: { error: object; [k: string]: unknown },
): Response {
  const request = JSON.parse(requestText);
  const from = { id: set.roster.parties[i]!.id, key: set.keys[i]! };
  return Response.json(makeErrorAnswer(from, request, status, body), { status });
}

/**
 * `res`, a fake party `i`'s answer to the request `requestText`, with an error body it did not
 * sign signed by party `i` (`partyErrorResponse`): a test's misbehaving party states its error
 * itself, as a party does (one on the path could not).
 */
export async function signedAsParty(
  set: FiveParties,
  i: number,
  requestText: string,
  res: Response,
): Promise<Response> {
  if (res.ok) return res;
  const text = await res.text();
  let json: { error?: object; response?: unknown } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (json?.error === undefined || json.response !== undefined)
    return new Response(text, { status: res.status, headers: res.headers });
  return partyErrorResponse(set, i, requestText, res.status, json as { error: object });
}
