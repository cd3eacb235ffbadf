/**
 * Party nodes as real OS processes on loopback, each with its own LevelDB: DKG across five
 * processes, 3-of-5 signing over HTTP, refusal of forged/replayed/stale requests, nonce safety
 * across kill -9, and policy refusals (also when the coordinator lies about the message).
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ClusterLayout,
  callSigner,
  defaultPolicy,
  frostIdentifier,
  httpSigningTransport,
  loadOrCreateIdentityKey,
  makeRequest,
  memoryLogger,
  PartyClient,
  type PartyProcess,
  partyIdsOf,
  proposalSigningBytes,
  runDkgOverHttp,
  runRefreshOverHttp,
  runRepairOverHttp,
  type SignSubject,
  spawnParty,
  startCluster,
  verifierRoster,
} from '@aaps/agents';
import { buildBundleStatement, IN_TOTO_PAYLOAD_TYPE, pae, type TranscriptEnvelope } from '@aaps/evidence';
import { createHttpCoordinator } from '@aaps/gateway';
import {
  AapsError,
  canonicalBytes,
  getCiphersuite,
  loadFastBackends,
  type PublicKeyPackage,
  Round1CommitmentBatchCodec,
  SigningPackageCodec,
  SigningSession,
  signEnvelope,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionName } from '../packages/agents/src/policy/roles.js';
import { proposalFor } from '../packages/agents/src/policy/test-helpers/fixtures.js';
import { approvalRequired, approvalSubject, clusterBacking } from './helpers/backing.js';
import { blockingFetch } from './helpers/blocking-fetch.js';
import { shopStagingPolicies } from './helpers/shop-policies.js';

const suite = () => getCiphersuite('FROST-ED25519-SHA512-v1');
let dir: string;
let layout: ClusterLayout;
let procs: PartyProcess[];
let client: PartyClient;
let publicPackage: PublicKeyPackage;

function spki(pk: Uint8Array) {
  return createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pk]),
    format: 'der',
    type: 'spki',
  });
}

/** One fresh commitment from a party (`sign.commit` with count 1). */
async function drawCommitment(partyId: string, session: string) {
  const out = await client.call<{ commitments: unknown }>(partyId, 'sign.commit', session, { count: 1 });
  return Round1CommitmentBatchCodec.fromJSON(out.commitments, suite().id).value.commitments[0]!;
}

function proposal(action: ActionName = 'image_rollback') {
  return proposalFor(action, { incident_id: 'inc-e2e-1' });
}

describe('party nodes across processes', () => {
  beforeAll(async () => {
    await loadFastBackends();
    dir = mkdtempSync(join(tmpdir(), 'aaps-party-e2e-'));
    // The fixtures' proposals declare `shop` staging: the departments' policies say so too.
    ({ layout, procs } = await startCluster({ dir, threshold: 3, policyFor: shopStagingPolicies(dir) }));
    client = new PartyClient({ roster: layout.roster, caller: { id: 'gateway', key: layout.gatewayKey } });
  }, 60_000);

  afterAll(async () => {
    await Promise.all((procs ?? []).map((p) => p.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  it('DKG across 5 processes gives every party the same group key', async () => {
    const lines: string[] = [];
    const result = await runDkgOverHttp(client, suite(), {
      sessionId: 'dkg-1',
      progress: (l) => lines.push(l),
    });
    publicPackage = result.publicPackage;
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const p of layout.roster.parties) {
      const info = await client.call<{ group_public_key: string }>(p.id, 'key.info', 'info', {});
      expect(info.group_public_key).toBe(result.groupPublicKeyHex);
      const health = (await (await fetch(`${p.url}/healthz`)).json()) as { has_key: boolean };
      expect(health.has_key).toBe(true);
    }
  });

  it('a second DKG without replace is refused (KEY_EXISTS)', async () => {
    await expect(runDkgOverHttp(client, suite(), { sessionId: 'dkg-2' })).rejects.toMatchObject({
      code: 'KEY_EXISTS',
    });
  });

  it('a DKG with replace is refused while the operators have not allowed it (FORBIDDEN); the key stays', async () => {
    await expect(
      runDkgOverHttp(client, suite(), { sessionId: 'dkg-replace', replace: true }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('--allow-key-replace') });
    for (const p of layout.roster.parties) {
      const info = await client.call<{ group_public_key: string }>(p.id, 'key.info', 'info-2', {});
      expect(info.group_public_key).toBe(Buffer.from(publicPackage.groupPublicKey).toString('hex'));
    }
  });

  it('3-of-5 signing over HTTP verifies with node:crypto', async () => {
    const session = new SigningSession<SignSubject>({
      suite: suite(),
      publicPackage,
      transport: httpSigningTransport(client, suite(), 'trace-sign-1'),
      timeoutMs: 5000,
    });
    const p = proposal();
    const result = await session.sign({
      payload: approvalSubject(layout, p),
      required: approvalRequired(layout),
      messageFor: (s) => proposalSigningBytes((s as { proposal: unknown }).proposal),
    });
    expect(result.signers.length).toBe(3);
    expect(
      nodeVerify(null, proposalSigningBytes(p), spki(publicPackage.groupPublicKey), result.signature),
    ).toBe(true);
    expect(
      partyIdsOf(layout.roster, result.signers).every((id) => layout.roster.parties.some((q) => q.id === id)),
    ).toBe(true);
  });

  it('unused nonces expire after the time to live; a coordinator holding their commitments signs anyway', async () => {
    const victim = layout.roster.parties[4]!;
    const idx = procs.findIndex((p) => p.id === victim.id);
    const restart = async (env: Record<string, string>) => {
      await procs[idx]!.stop('SIGTERM');
      procs[idx] = spawnParty(victim.id, victim.url, layout.configPaths[victim.id]!, { env });
      await procs[idx]!.ready();
    };
    await restart({ AAPS_PARTY_NONCE_TTL_SEC: '1' });
    try {
      const s = suite();
      const session = new SigningSession<SignSubject>({
        suite: s,
        publicPackage,
        transport: httpSigningTransport(client, s, 'trace-ttl'),
        timeoutMs: 5000,
        batchSize: 4,
        preference: [frostIdentifier(layout.roster, victim)],
      });
      const sign = (p: ReturnType<typeof proposal>) =>
        session.sign({
          payload: approvalSubject(layout, p),
          required: approvalRequired(layout),
          messageFor: (x) => proposalSigningBytes((x as { proposal: unknown }).proposal),
        });
      const first = await sign(proposalFor('image_rollback', { incident_id: 'inc-ttl-1' }));
      expect(first.attempts).toBe(1);
      // A commitment drawn now, then left unused past the time to live (sweeps every 250 ms).
      // (With quality assurance among the signers: an approval's package must name the veto holder.)
      const commitments = [
        await drawCommitment(layout.roster.parties[0]!.id, 'ttl'),
        await drawCommitment(layout.roster.parties[3]!.id, 'ttl'),
        await drawCommitment(victim.id, 'ttl'),
      ];
      await new Promise((r) => setTimeout(r, 1600));
      expect(procs[idx]!.output()).toContain('nonces.expired');
      const p = proposalFor('image_rollback', { incident_id: 'inc-ttl-2' });
      await expect(
        client.call(victim.id, 'sign.round2', 'ttl', {
          signing_package: SigningPackageCodec.toJSON(s.id, {
            commitments,
            message: proposalSigningBytes(p),
          }),
          subject: approvalSubject(layout, p),
        }),
      ).rejects.toMatchObject({ code: 'UNKNOWN_NONCE', message: expect.stringContaining('expired unused') });
      // The session still holds pooled commitments whose nonces expired: it is told so, asks for
      // fresh ones and signs on a second attempt, the victim among the signers.
      expect(session.pooled(frostIdentifier(layout.roster, victim))).toBeGreaterThan(0);
      const second = await sign(p);
      expect(second.attempts).toBe(2);
      expect(partyIdsOf(layout.roster, second.signers)).toContain(victim.id);
      expect(
        nodeVerify(null, proposalSigningBytes(p), spki(publicPackage.groupPublicKey), second.signature),
      ).toBe(true);
    } finally {
      await restart({});
    }
  });

  it('concurrent signings through a coalescing client share batch requests; a refusal fails alone', async () => {
    const paths: string[] = [];
    const counting: typeof fetch = (input, init) => {
      paths.push(new URL(String(input instanceof Request ? input.url : input)).pathname);
      return fetch(input, init);
    };
    const coalescing = new PartyClient({
      roster: layout.roster,
      caller: { id: 'gateway', key: layout.gatewayKey },
      fetch: counting,
      coalesce: { maxInflight: 1 },
    });
    const session = new SigningSession<SignSubject>({
      suite: suite(),
      publicPackage,
      transport: httpSigningTransport(coalescing, suite(), 'trace-batch'),
      timeoutMs: 10_000,
      batchSize: 16,
    });
    const sign = (p: ReturnType<typeof proposal>) =>
      session.sign({
        payload: approvalSubject(layout, p),
        required: approvalRequired(layout),
        messageFor: (s) => proposalSigningBytes((s as { proposal: unknown }).proposal),
      });
    const good = Array.from({ length: 12 }, (_, i) =>
      proposalFor('image_rollback', { incident_id: `inc-b-${i}` }),
    );
    // rbac_changes needs a signed human approval: every party refuses it on policy.
    const refused = proposalFor('rbac_changes', { incident_id: 'inc-b-rbac' });
    const [bad, ...results] = await Promise.allSettled([sign(refused), ...good.map(sign)]);
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'QUORUM_UNREACHABLE' } });
    results.forEach((r, i) => {
      expect(r.status).toBe('fulfilled');
      const { signature } = (r as PromiseFulfilledResult<{ signature: Uint8Array }>).value;
      expect(
        nodeVerify(null, proposalSigningBytes(good[i]!), spki(publicPackage.groupPublicKey), signature),
      ).toBe(true);
    });
    // Thirteen signings, three signers each, went out in fewer requests than calls.
    const round2 = paths.filter((x) => x === '/v1/sign/round2').length;
    const batches = paths.filter((x) => x === '/v1/batch').length;
    expect(batches).toBeGreaterThan(0);
    expect(round2 + batches).toBeLessThan(13 * 3);
  });

  it('a warm pooling session asks each party for one batch only: every round two brings its replacement commitment', async () => {
    const paths: string[] = [];
    const counting: typeof fetch = (input, init) => {
      paths.push(new URL(String(input instanceof Request ? input.url : input)).pathname);
      return fetch(input, init);
    };
    const plain = new PartyClient({
      roster: layout.roster,
      caller: { id: 'gateway', key: layout.gatewayKey },
      fetch: counting,
    });
    const session = new SigningSession<SignSubject>({
      suite: suite(),
      publicPackage,
      transport: httpSigningTransport(plain, suite(), 'trace-replenish'),
      timeoutMs: 10_000,
      batchSize: 4,
    });
    for (let i = 0; i < 10; i++) {
      const p = proposalFor('image_rollback', { incident_id: `inc-r-${i}` });
      const r = await session.sign({
        payload: approvalSubject(layout, p),
        required: approvalRequired(layout),
        messageFor: (s) => proposalSigningBytes((s as { proposal: unknown }).proposal),
      });
      expect(r.attempts).toBe(1);
      expect(nodeVerify(null, proposalSigningBytes(p), spki(publicPackage.groupPublicKey), r.signature)).toBe(
        true,
      );
    }
    // Round one ran once per party (the first signing asks every party without a pool); the
    // other nine signings were round two alone, and the signers' pools are as full as at first.
    expect(paths.filter((x) => x === '/v1/sign/commit')).toHaveLength(5);
    expect(paths.filter((x) => x === '/v1/sign/round2')).toHaveLength(30);
    expect(session.pooled()).toBe(5 * 4);
    // A party checks how many it is asked for, and spends no nonce on a request it refuses.
    const required = approvalRequired(layout);
    const signers = [
      ...layout.roster.parties.filter((q) => required.includes(frostIdentifier(layout.roster, q))),
      ...layout.roster.parties.filter((q) => !required.includes(frostIdentifier(layout.roster, q))),
    ].slice(0, 3);
    const target = signers[1]!.id;
    const commitments = await Promise.all(signers.map((q) => drawCommitment(q.id, 'replenish-bad')));
    commitments.sort((a, b) => (a.identifier < b.identifier ? -1 : 1));
    const p = proposalFor('image_rollback', { incident_id: 'inc-r-bad' });
    const body = {
      signing_package: SigningPackageCodec.toJSON(suite().id, {
        commitments,
        message: proposalSigningBytes(p),
      }),
      subject: approvalSubject(layout, p),
    };
    for (const replenish of [-1, 17, 1.5, '1']) {
      await expect(
        client.call(target, 'sign.round2', 'replenish-bad', { ...body, replenish }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('replenish') });
    }
    // The nonce is still there: the same package signs, with its replacement.
    const out = await client.call<{ share: unknown; commitments: unknown }>(
      target,
      'sign.round2',
      'replenish-bad',
      {
        ...body,
        replenish: 2,
      },
    );
    expect(Round1CommitmentBatchCodec.fromJSON(out.commitments, suite().id).value.commitments).toHaveLength(
      2,
    );
  });

  it('a batch request carrying a call that may not be batched, or too many calls, is refused whole', async () => {
    const target = layout.roster.parties[1]!.id;
    const call = (kind: string) => ({ kind, session_id: 's-1', ctx: { trace_id: 't' }, body: {} });
    await expect(
      client.call(target, 'batch', 'b-1', { calls: [call('sign.commit'), call('dkg.round1')] }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      client.call(target, 'batch', 'b-2', { calls: Array.from({ length: 17 }, () => call('sign.commit')) }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // One bad call among good ones fails alone, with the error it would get on its own.
    const out = await client.call<{ results: { body?: unknown; error?: { code: string } }[] }>(
      target,
      'batch',
      'b-3',
      { calls: [call('sign.commit'), { ...call('sign.commit'), body: { count: 0 } }] },
    );
    expect(out.results[0]?.body).toBeDefined();
    expect(out.results[1]?.error?.code).toBe('INVALID_ARGUMENT');
  });

  it('refuses forged, unknown-sender, replayed and stale requests, changing nothing', async () => {
    const target = layout.roster.parties[0]!;
    // Through the coordinator's transport (its signed call header), so the envelope's checks are
    // what refuses.
    const post = (env: unknown) => {
      const text = JSON.stringify(env);
      return fetch(`${target.url}/v1/sign/commit`, {
        method: 'POST',
        headers: callSigner(
          { id: layout.roster.gateway.id, key: layout.gatewayKey },
          layout.roster.parties,
        ).headers(target.id, '/v1/sign/commit', text),
        body: text,
      });
    };
    const good = makeRequest(
      { id: 'gateway', key: layout.gatewayKey },
      target.id,
      'sign.commit',
      's',
      { count: 1 },
      { trace_id: 't' },
    );
    const forged = { ...good, payload: { ...good.payload, body: { count: 2 } } };
    expect((await post(forged)).status).toBe(401);
    const stranger = makeRequest(
      { id: 'gateway', key: layout.approverKeys.x ?? (await import('@aaps/mpc-core')).generateIdentityKey() },
      target.id,
      'sign.commit',
      's',
      { count: 1 },
      { trace_id: 't' },
    );
    expect((await post(stranger)).status).toBe(401);
    // Another party, signing with its own identity key: authentic, but only the coordinator calls.
    const peer = layout.roster.parties[1]!;
    const peerKey = loadOrCreateIdentityKey(join(dir, 'parties', peer.id, 'identity.key'), false);
    const fromPeer = await post(
      makeRequest(
        { id: peer.id, key: peerKey },
        target.id,
        'sign.commit',
        's',
        { count: 1 },
        { trace_id: 't' },
      ),
    );
    expect(fromPeer.status).toBe(403);
    expect(((await fromPeer.json()) as { error: { message: string } }).error.message).toContain(
      'only the coordinator',
    );
    const unsigned = { ...good, meta: { ...good.meta, signature: undefined } };
    expect((await post(unsigned)).status).toBe(401);
    const stale = signEnvelope(
      {
        ...good,
        meta: {
          ...good.meta,
          signature: undefined,
          timestamp: new Date(Date.now() - 3600_000).toISOString(),
        },
      },
      layout.gatewayKey.secretKey,
    );
    const staleRes = await post(stale);
    expect(staleRes.status).toBe(401);
    expect(((await staleRes.json()) as { error: { code: string } }).error.code).toBe('STALE_REQUEST');
    expect((await post(good)).status).toBe(200);
    const replay = await post(good);
    expect(replay.status).toBe(409);
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('REPLAYED_REQUEST');
    const wrongType = await fetch(`${target.url}/v1/sign/commit`, {
      method: 'POST',
      headers: {
        ...callSigner(
          { id: layout.roster.gateway.id, key: layout.gatewayKey },
          layout.roster.parties,
        ).headers(target.id, '/v1/sign/commit', 'x'),
        'content-type': 'text/plain',
      },
      body: 'x',
    });
    expect(wrongType.status).toBe(415);
    // Without the coordinator's call header (a stranger, or a peer signing its own): 401 before
    // the body is read, the good envelope inside notwithstanding.
    const text = JSON.stringify(good);
    const bare = await fetch(`${target.url}/v1/sign/commit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: text,
    });
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { error: { message: string } }).error.message).toContain('aaps-call');
    const peerCall = await fetch(`${target.url}/v1/sign/commit`, {
      method: 'POST',
      headers: callSigner({ id: layout.roster.gateway.id, key: peerKey }, layout.roster.parties).headers(
        target.id,
        '/v1/sign/commit',
        text,
      ),
      body: text,
    });
    expect(peerCall.status).toBe(401);
    const metrics = await (await fetch(`${target.url}/metrics`)).text();
    expect(metrics).toMatch(/aaps_party_rejected_requests_total\{reason="replay"\} 1/);
    expect(metrics).toMatch(/aaps_party_rejected_requests_total\{reason="call_missing"\} 1/);
    expect(metrics).toMatch(/aaps_party_rejected_requests_total\{reason="call_tag"\} 1/);
  });

  /** An HTTP coordinator over the cluster that cannot reach `blocked` (if given). */
  const coordinatorBlocking = (blocked?: { url: string }) =>
    createHttpCoordinator({
      roster: layout.roster,
      gatewayKey: layout.gatewayKey,
      publicPackage,
      logger: memoryLogger(),
      fetch: blockingFetch((url) => blocked !== undefined && url.port === new URL(blocked.url).port),
    });

  it('a party the coordinator cannot reach is recorded as unavailable; the others sign without it', async () => {
    const blocked = layout.roster.parties[0]!;
    const coordinator = coordinatorBlocking(blocked);
    const approved = proposal();
    const signed = await coordinator.signApproval(approved, clusterBacking(layout, approved));
    expect(signed.signers).not.toContain(blocked.id);
    expect(signed.signers).toHaveLength(layout.roster.threshold.min);
    expect(signed.unavailable.map((u) => [u.party, u.code])).toEqual([[blocked.id, 'UNAVAILABLE']]);
    expect(signed.misbehaved).toEqual([]);
    expect(signed.refusals).toEqual([]);
  });

  it('quality assurance is in every approval quorum: its refusal ends the approval, its absence stalls it', async () => {
    const qa = layout.roster.parties.find((p) => p.role === 'quality-assurance')!;
    const coordinatorFor = (blockQa: boolean) => coordinatorBlocking(blockQa ? qa : undefined);
    const failure = async (coordinator: ReturnType<typeof createHttpCoordinator>) => {
      const p = proposalFor('image_rollback', { incident_id: `inc-veto-${Date.now()}` });
      return (await coordinator
        .signApproval(p, clusterBacking(layout, p))
        .catch((e: unknown) => e)) as AapsError;
    };
    // Unreachable: three others would sign, but not without it (an outage, not a verdict).
    const absent = await failure(coordinatorFor(true));
    expect(absent.code).toBe('QUORUM_UNREACHABLE');
    expect(absent.details['vetoes']).toEqual([]);
    expect(absent.details['unavailable_parties']).toEqual([qa.id]);
    // Its own policy refuses automatic rollbacks: the approval ends, though three others would sign.
    const configPath = layout.configPaths[qa.id]!;
    const original = readFileSync(configPath, 'utf8');
    const policyPath = join(dir, 'qa-strict.policy.json');
    const qaPolicy = defaultPolicy('quality-assurance');
    writeFileSync(
      policyPath,
      JSON.stringify({
        ...qaPolicy,
        allowed_auto_actions: qaPolicy.allowed_auto_actions.filter((a) => a !== 'image_rollback'),
      }),
    );
    const restartQa = async () => {
      const idx = procs.findIndex((p) => p.id === qa.id);
      await procs[idx]!.stop('SIGTERM');
      procs[idx] = spawnParty(qa.id, qa.url, configPath);
      await procs[idx]!.ready();
    };
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(original), policy: policyPath }));
    try {
      await restartQa();
      const vetoed = await failure(coordinatorFor(false));
      expect(vetoed.code).toBe('QUORUM_UNREACHABLE');
      expect((vetoed.details['vetoes'] as { party: string }[]).map((v) => v.party)).toEqual([qa.id]);
      expect(vetoed.details['refusals']).toEqual(vetoed.details['vetoes']);
    } finally {
      writeFileSync(configPath, original);
      await restartQa();
    }
  });

  it('kill -9 between round 1 and round 2, then a restart: the commitment cannot be used twice', async () => {
    const victim = layout.roster.parties[1]!;
    const others = [layout.roster.parties[2]!, layout.roster.parties[3]!];
    const s = suite();
    const c1 = (id: string) => drawCommitment(id, 'k9');
    const commitments = [await c1(victim.id), ...(await Promise.all(others.map((o) => c1(o.id))))];
    const idx = procs.findIndex((p) => p.id === victim.id);
    await procs[idx]!.stop('SIGKILL');
    procs[idx] = spawnParty(victim.id, victim.url, layout.configPaths[victim.id]!);
    await procs[idx]!.ready();
    const p = proposal();
    const pkg = { commitments, message: proposalSigningBytes(p) };
    const round2 = () =>
      client.call(victim.id, 'sign.round2', 'k9', {
        signing_package: SigningPackageCodec.toJSON(s.id, pkg),
        subject: approvalSubject(layout, p),
      });
    await round2(); // the nonce survived the crash (persisted before the commitment left) and signs once
    await expect(round2()).rejects.toMatchObject({ code: 'NONCE_REUSE' });
    // A different message with the same commitment is refused as well: no second share, ever.
    const p2 = proposalFor('image_rollback', { incident_id: 'inc-e2e-2' });
    await expect(
      client.call(victim.id, 'sign.round2', 'k9b', {
        signing_package: SigningPackageCodec.toJSON(s.id, { commitments, message: proposalSigningBytes(p2) }),
        subject: approvalSubject(layout, p2),
      }),
    ).rejects.toMatchObject({ code: 'NONCE_REUSE' });
  });

  it('a party whose policy forbids the action refuses, also when the coordinator lies about it', async () => {
    const s = suite();
    const party = layout.roster.parties[0]!;
    const commit = () => drawCommitment(party.id, 'pol');
    const others = await Promise.all(
      [layout.roster.parties[2]!, layout.roster.parties[3]!].map((o) => drawCommitment(o.id, 'pol')),
    );
    // An RBAC change needs a signed human approval: refused by rule.
    const rbac = proposal('rbac_changes');
    const mine = await commit();
    const err = await client
      .call(party.id, 'sign.round2', 'pol', {
        signing_package: SigningPackageCodec.toJSON(s.id, {
          commitments: [mine, ...others],
          message: proposalSigningBytes(rbac),
        }),
        subject: approvalSubject(layout, rbac),
      })
      .catch((e: AapsError) => e);
    expect(err).toBeInstanceOf(AapsError);
    expect((err as AapsError).code).toBe('POLICY_REFUSED');
    expect((err as AapsError).details.rule).toMatch(/human/);
    expect((err as AapsError).details.refusal).toBeTruthy();
    // The coordinator shows an allowed proposal but puts the bytes of the forbidden one in the package.
    const allowed = proposal();
    const lie = await client
      .call(party.id, 'sign.round2', 'pol2', {
        signing_package: SigningPackageCodec.toJSON(s.id, {
          commitments: [mine, ...others],
          message: proposalSigningBytes(rbac),
        }),
        subject: approvalSubject(layout, allowed),
      })
      .catch((e: AapsError) => e);
    expect((lie as AapsError).code).toBe('POLICY_REFUSED');
    expect((lie as AapsError).details.rule).toBe('message.mismatch');
    // A package that leaves quality assurance (the veto holder) out, though the proposal is backed
    // and allowed: a coordinator routing around a veto. Refused by rule, before any share.
    const withoutQa = await drawCommitment(layout.roster.parties[1]!.id, 'pol-no-qa');
    const allowedHere = proposal();
    const routedAround = await client
      .call(party.id, 'sign.round2', 'pol-no-qa', {
        signing_package: SigningPackageCodec.toJSON(s.id, {
          commitments: [mine, withoutQa, others[0]!],
          message: proposalSigningBytes(allowedHere),
        }),
        subject: approvalSubject(layout, allowedHere),
      })
      .catch((e: AapsError) => e);
    expect((routedAround as AapsError).code).toBe('POLICY_REFUSED');
    expect((routedAround as AapsError).details.rule).toBe('approval.veto_quorum');
    // A proposal the gateway made up (no agent proposed it, or the backing is another proposal's):
    // refused by rule, before any share.
    const madeUp = proposal();
    for (const backing of [undefined, clusterBacking(layout, proposal('configmap_reload'))]) {
      const refused = await client
        .call(party.id, 'sign.round2', 'pol-made-up', {
          signing_package: SigningPackageCodec.toJSON(s.id, {
            commitments: [mine, ...others],
            message: proposalSigningBytes(madeUp),
          }),
          subject: { kind: 'approval', proposal: madeUp, ...(backing ? { backing } : {}) },
        })
        .catch((e: AapsError) => e);
      expect((refused as AapsError).code).toBe('POLICY_REFUSED');
      expect((refused as AapsError).details.rule).toBe('approval.backing');
    }
    // The refused attempts did not consume the nonce: the honest package still signs.
    await client.call(party.id, 'sign.round2', 'pol3', {
      signing_package: SigningPackageCodec.toJSON(s.id, {
        commitments: [mine, ...others],
        message: proposalSigningBytes(allowed),
      }),
      subject: approvalSubject(layout, allowed),
    });
    expect(frostIdentifier(layout.roster, party)).toBe(mine.identifier);
  });

  it('a party signs evidence only as in-toto, over a Statement whose subject is the signed transcript it is shown', async () => {
    const s = suite();
    const party = layout.roster.parties[0]!;
    const others = [2, 3].map((i) => layout.roster.parties[i]!);
    const roster = verifierRoster(layout.roster);
    const gatewayEnvelope = (note: string) =>
      signEnvelope(
        {
          meta: {
            trace_id: 'trace-ev',
            span_id: `span-${note}`,
            timestamp: '2026-11-26T01:00:00Z',
            source_agent: 'gateway',
            target_agent: 'audit-agent',
            message_type: 'IncidentSignal',
            schema_version: 'v1.0.0',
            idempotency_key: `idem-${note}`,
          },
          context: { namespace: 'payments', cluster: 'prod', urgency: 'P2', constraints_ref: 'policy/v1' },
          payload: { note },
        },
        layout.gatewayKey.secretKey,
      );
    const transcript = [gatewayEnvelope('a')];
    const statementOver = (shown: unknown[], signers = [party.id, ...others.map((o) => o.id)]) =>
      canonicalBytes(
        buildBundleStatement({
          incident: { id: 'inc-ev', type: 'config_validation_failed' },
          decision: { outcome: 'approved' },
          action: null,
          humanApprovals: [],
          verification: null,
          times: { received: '2026-11-26T01:00:00Z' },
          transcript: shown as TranscriptEnvelope[],
          ciphersuite: 'FROST-ED25519-SHA512-v1',
          groupPublicKey: publicPackage.groupPublicKey,
          threshold: { min: 3, max: 5 },
          signers,
          roster,
        }),
      );
    const payload = statementOver(transcript);
    const commitOf = (id: string) => drawCommitment(id, 'ev');
    const theirs = await Promise.all(others.map((o) => commitOf(o.id)));
    const mine = await commitOf(party.id);
    const round2 = (session: string, payloadType: string, shown: unknown[], statement = payload) =>
      client
        .call<{ signature_share: unknown }>(party.id, 'sign.round2', session, {
          signing_package: SigningPackageCodec.toJSON(s.id, {
            commitments: [mine, ...theirs],
            message: pae(payloadType, statement),
          }),
          subject: {
            kind: 'evidence',
            payload_type: payloadType,
            payload: Buffer.from(statement).toString('base64'),
            transcript: shown,
          },
        })
        .catch((e: unknown) => e);
    const ruleOf = (e: unknown) => (e instanceof AapsError ? e.details.rule : e);
    // Another transcript, validly signed, that the Statement does not name.
    expect(ruleOf(await round2('ev1', IN_TOTO_PAYLOAD_TYPE, [gatewayEnvelope('b')]))).toBe(
      'evidence.subject',
    );
    // A Statement that names other signers: this party's share would be misattributed.
    const unnamed = statementOver(transcript, [layout.roster.parties[1]!.id, ...others.map((o) => o.id)]);
    expect(ruleOf(await round2('ev0', IN_TOTO_PAYLOAD_TYPE, transcript, unnamed))).toBe('evidence.signers');
    // The same Statement under another DSSE payload type.
    expect(ruleOf(await round2('ev2', 'application/json', transcript))).toBe('evidence.payload_type');
    // The named transcript with an envelope changed after it was signed.
    const changed = [{ ...transcript[0]!, payload: { note: 'changed' } }];
    expect(ruleOf(await round2('ev3', IN_TOTO_PAYLOAD_TYPE, changed))).toBe('evidence.subject');
    // ... and with a Statement made over the changed transcript: its signature no longer holds.
    const overChanged = statementOver(changed);
    expect(ruleOf(await round2('ev4', IN_TOTO_PAYLOAD_TYPE, changed, overChanged))).toBe(
      'evidence.transcript',
    );
    // The refusals consumed no nonce: the honest request signs with the same commitment.
    const ok = await round2('ev5', IN_TOTO_PAYLOAD_TYPE, transcript);
    expect(ok).toHaveProperty('share');

    // The gateway's coordinator asks only the parties a Statement names: none substitutes.
    const asked = new Set<string>();
    const coordinator = createHttpCoordinator({
      roster: layout.roster,
      gatewayKey: layout.gatewayKey,
      publicPackage,
      logger: memoryLogger(),
      batchSize: 1,
      fetch: (input, init) => {
        const url = new URL(String(input instanceof Request ? input.url : input));
        asked.add(layout.roster.parties.find((p) => new URL(p.url).port === url.port)!.id);
        return fetch(input, init);
      },
    });
    const named = [1, 2, 3].map((i) => layout.roster.parties[i]!.id);
    const statement = JSON.parse(new TextDecoder().decode(statementOver(transcript, named)));
    const signed = await coordinator.signEvidence({ statement, transcript });
    expect([...signed.signers].sort()).toEqual([...named].sort());
    expect([...asked].sort()).toEqual([...named].sort());
    expect(
      nodeVerify(
        null,
        pae(IN_TOTO_PAYLOAD_TYPE, statementOver(transcript, named)),
        spki(publicPackage.groupPublicKey),
        signed.signature,
      ),
    ).toBe(true);
  });
});

describe('key maintenance across processes', () => {
  let dir2: string;
  let layout2: ClusterLayout;
  let procs2: PartyProcess[];
  let client2: PartyClient;

  beforeAll(async () => {
    await loadFastBackends();
    dir2 = mkdtempSync(join(tmpdir(), 'aaps-keys-e2e-'));
    ({ layout: layout2, procs: procs2 } = await startCluster({
      dir: dir2,
      threshold: 3,
      policyFor: shopStagingPolicies(dir2),
    }));
    client2 = new PartyClient({ roster: layout2.roster, caller: { id: 'gateway', key: layout2.gatewayKey } });
  }, 60_000);

  afterAll(async () => {
    await Promise.all((procs2 ?? []).map((p) => p.stop('SIGKILL')));
    rmSync(dir2, { recursive: true, force: true });
  });

  const signWith = async (pub: PublicKeyPackage, exclude: string[] = []) => {
    const session = new SigningSession<SignSubject>({
      suite: suite(),
      publicPackage: pub,
      transport: httpSigningTransport(client2, suite(), 'keys'),
      timeoutMs: 5000,
    });
    const p = proposal();
    const r = await session.sign({
      payload: approvalSubject(layout2, p),
      required: approvalRequired(layout2),
      messageFor: () => proposalSigningBytes(p),
      exclude: layout2.roster.parties
        .filter((q) => exclude.includes(q.id))
        .map((q) => frostIdentifier(layout2.roster, q)),
    });
    expect(nodeVerify(null, proposalSigningBytes(p), spki(pub.groupPublicKey), r.signature)).toBe(true);
    return r;
  };

  it('refresh over the network keeps the group key, changes every share, and still signs', async () => {
    const before = await runDkgOverHttp(client2, suite(), { sessionId: 'k-dkg' });
    await signWith(before.publicPackage);
    const after = await runRefreshOverHttp(client2, suite(), { sessionId: 'k-refresh' });
    expect(after.groupPublicKeyHex).toBe(before.groupPublicKeyHex);
    for (const p of layout2.roster.parties)
      expect(after.verifyingShares[p.id]).not.toBe(before.verifyingShares[p.id]);
    await signWith(after.publicPackage);
  });

  it('repair over the network rebuilds a lost share exactly; the party signs again', async () => {
    const info = await client2.call<{ public_package: unknown; verifying_share: string }>(
      layout2.roster.parties[0]!.id,
      'key.info',
      'i',
      {},
    );
    const pub = (await import('@aaps/mpc-core')).PublicKeyPackageCodec.fromJSON(
      info.public_package,
      suite().id,
    ).value;
    const lost = layout2.roster.parties[4]!;
    const before = await client2.call<{ verifying_share: string }>(lost.id, 'key.info', 'i2', {});
    // The party loses its disk: stop it, wipe its database, start it again with no key.
    const idx = procs2.findIndex((p) => p.id === lost.id);
    await procs2[idx]!.stop('SIGKILL');
    rmSync(join(dir2, 'parties', lost.id, 'db'), { recursive: true, force: true });
    procs2[idx] = spawnParty(lost.id, lost.url, layout2.configPaths[lost.id]!);
    await procs2[idx]!.ready();
    await expect(client2.call(lost.id, 'key.info', 'i3', {})).rejects.toMatchObject({ code: 'NO_KEY' });
    const helpers = layout2.roster.parties.slice(0, 3).map((p) => p.id);
    const out = await runRepairOverHttp(client2, {
      sessionId: 'k-repair',
      lost: lost.id,
      helpers,
      publicPackage: info.public_package,
    });
    expect(out.verifyingShare).toBe(before.verifying_share);
    // The repaired party signs in a quorum that needs it.
    const r = await signWith(pub, [layout2.roster.parties[0]!.id, layout2.roster.parties[1]!.id]);
    expect(partyIdsOf(layout2.roster, r.signers)).toContain(lost.id);
  });
});
