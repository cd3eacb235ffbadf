import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AapsError,
  type FieldRelease,
  generateIdentityKey,
  hexToBytes,
  openFields,
  PolicyRefusal,
  ProtocolError,
  ReleasedShareCodec,
  releaseSignedBy,
  SealedFieldCodec,
  seal,
  sealedBoxDigest,
  shareAad,
  shareCommitment,
  signUnsealRequest,
  type UnsealRequest,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../policy/defaults.js';
import type { Policy } from '../../policy/schema.js';
import type { PartyStore } from '../../store/level.js';
import { fiveParties, partyDeps, ROLES, sealedSecret } from '../test-helpers/five-parties.js';
import { loggedRequestRecord, recordCheckerFor, testGroup } from '../test-helpers/unseal-record.js';
import { createUnsealHandler, type UnsealAnswer } from './unseal.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-unseal-'));
const alice = generateIdentityKey();
const set = fiveParties({
  url: (i) => `http://127.0.0.1:${9000 + i}`,
  approvers: [{ id: 'alice', key: alice }],
});
const stores: PartyStore[] = [];
const group = testGroup();

async function party(i: number, policy: Policy = defaultPolicy(ROLES[i]!)) {
  const deps = await partyDeps(set, i, { dir, stores, policy, rosterDigest: 'ab'.repeat(32) });
  return {
    release: createUnsealHandler({ ...deps, requestRecord: recordCheckerFor(set, group) }),
    store: deps.store,
  };
}

/** What the gateway relays: the request, its logged record, the fields. */
async function bodyFor(req: UnsealRequest, fields: unknown[] = [sealedWire]) {
  return { request: req, request_record: await loggedRequestRecord(set, group, req), fields };
}

const VALUE = { password: 'hunter2-canary' };
let sealedWire: unknown;
let fieldId = '';

function request(over: Partial<UnsealRequest> = {}, key = alice): UnsealRequest {
  const now = Date.now();
  const { signature: _s, ...rest } = {
    request_id: `ur-${randomBytes(8).toString('hex')}`,
    incident_id: 'inc-1',
    evidence_id: 'ab'.repeat(32),
    fields: [fieldId],
    requester: 'alice',
    reason: 'rotate the leaked password',
    issued_at: new Date(now - 1000).toISOString(),
    expires_at: new Date(now + 600_000).toISOString(),
    signature: '',
    ...over,
  };
  return signUnsealRequest(rest, key.secretKey);
}

async function refusalOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PolicyRefusal) return e.rule;
    if (e instanceof AapsError) return e.code;
    throw e;
  }
  throw new Error('expected a refusal');
}

beforeAll(async () => {
  const field = await sealedSecret(set, 'inc-1', VALUE);
  sealedWire = SealedFieldCodec.toJSON(field);
  fieldId = field.id;
});

afterAll(async () => {
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function releasesOf(answers: UnsealAnswer[]): FieldRelease[] {
  return answers.flatMap((a) =>
    a.released.map((r) => ({ field: r.field, ...ReleasedShareCodec.fromJSON(r.release) })),
  );
}

/** The approver's side: releases checked against the roster's party keys for `req`, then combined. */
async function open(answers: UnsealAnswer[], req: UnsealRequest) {
  const secret = x25519FromIdentitySecretKey(alice.secretKey);
  const partyKeys = new Map(set.roster.parties.map((p) => [p.id, hexToBytes(p.identity_key)]));
  return openFields([SealedFieldCodec.fromJSON(sealedWire)], releasesOf(answers), secret, {
    requestId: req.request_id,
    incidentId: req.incident_id,
    requester: req.requester,
    partyKeys,
  });
}

describe('sealed.release', () => {
  it('records the request id on disk (a synced write) before it releases anything', async () => {
    const deps = await partyDeps(set, 0, { dir, stores, rosterDigest: 'ab'.repeat(32) });
    const seen: { id: string; sync: boolean | undefined }[] = [];
    const remember = deps.store.rememberRequest.bind(deps.store);
    const store = Object.assign(Object.create(deps.store) as PartyStore, {
      rememberRequest: (id: string, at: Date, until: Date, opts?: { sync?: boolean }) => {
        seen.push({ id, sync: opts?.sync });
        return remember(id, at, until, opts);
      },
      audit: deps.store.audit.bind(deps.store),
    });
    const release = createUnsealHandler({ ...deps, store, requestRecord: recordCheckerFor(set, group) });
    const req = request();
    await release(req.request_id, await bodyFor(req), 'gateway');
    expect(seen).toEqual([{ id: `unseal/${req.request_id}`, sync: true }]);
  });

  it('k parties releasing open the value for the approver; audits carry no share', async () => {
    const req = request();
    const answers: UnsealAnswer[] = [];
    for (const i of [0, 2, 4]) {
      const p = await party(i);
      answers.push(await p.release(req.request_id, await bodyFor(req), 'gateway'));
      const trail = await p.store.auditTrail();
      expect(trail.at(-1)).toMatchObject({ event: 'sealed.release', session: req.request_id });
    }
    const [out] = await open(answers, req);
    expect(out && 'opened' in out ? out.opened.value : undefined).toEqual(VALUE);
  });

  it('each release is signed by its party for this request, over the box digest it audits', async () => {
    const req = request();
    const p = await party(1);
    const answer = await p.release(req.request_id, await bodyFor(req), 'gateway');
    const [{ field, release }] = answer.released as [{ field: string; release: unknown }];
    const decoded = ReleasedShareCodec.fromJSON(release);
    const ctx = { requestId: req.request_id, incidentId: req.incident_id, requester: req.requester };
    const own = hexToBytes(set.roster.parties[1]!.identity_key);
    const logged = SealedFieldCodec.fromJSON(sealedWire);
    expect(logged.id).toBe(field);
    expect(releaseSignedBy(ctx, logged, decoded, own)).toBe(true);
    // Not for another request, nor under another party's key.
    expect(releaseSignedBy({ ...ctx, requestId: 'ur-other' }, logged, decoded, own)).toBe(false);
    expect(releaseSignedBy(ctx, logged, decoded, hexToBytes(set.roster.parties[0]!.identity_key))).toBe(
      false,
    );
    const trail = await p.store.auditTrail();
    expect(trail.at(-1)?.detail).toMatchObject({
      released: [{ field, box_sha256: sealedBoxDigest(decoded.box) }],
    });
  });

  it('a relay that shows one party a field with a share it sealed itself cannot get that party named (relsig review H1)', async () => {
    // Anyone can seal a share box to a party (its X25519 key follows from its roster key) and put
    // the matching commitment beside it: the party opens that share, finds it matches the field it
    // was shown, and signs its release. The approver checks it against the logged field.
    const req = request();
    const real = SealedFieldCodec.fromJSON(sealedWire);
    const victim = set.roster.parties[4]!;
    const junk = new Uint8Array(33).fill(7);
    const swapped = {
      ...real,
      shares: real.shares.map((s) =>
        s.party !== victim.id
          ? s
          : {
              party: s.party,
              box: seal(
                x25519FromIdentityPublicKey(hexToBytes(victim.identity_key)),
                junk,
                shareAad(real, victim.id),
              ),
              commitment: shareCommitment(real, victim.id, junk),
            },
      ),
    };
    const answers: UnsealAnswer[] = [];
    for (const i of [0, 2])
      answers.push(await (await party(i)).release(req.request_id, await bodyFor(req), 'gateway'));
    answers.push(
      await (await party(4)).release(
        req.request_id,
        await bodyFor(req, [SealedFieldCodec.toJSON(swapped)]),
        'gateway',
      ),
    );
    const [out] = await open(answers, req);
    expect(out && 'error' in out ? (out.error as ProtocolError).culprits : ['x']).toEqual([]);
  });

  it('k-1 releases open nothing (QUORUM_UNREACHABLE, nobody blamed)', async () => {
    const req = request();
    const answers = [];
    for (const i of [1, 3])
      answers.push(await (await party(i)).release(req.request_id, await bodyFor(req), 'gateway'));
    const [out] = await open(answers, req);
    expect(out && 'error' in out ? out.error : undefined).toBeInstanceOf(ProtocolError);
    expect(out && 'error' in out ? (out.error as ProtocolError).code : '').toBe('QUORUM_UNREACHABLE');
    expect(out && 'error' in out ? (out.error as ProtocolError).culprits : ['x']).toEqual([]);
  });

  it('a party whose policy refuses blocks only when fewer than k remain', async () => {
    const strict: Policy = {
      ...defaultPolicy('audit'),
      unseal: { ...defaultPolicy('audit').unseal!, approvers: ['bob'] },
    };
    const req = request();
    const refusing = await party(4, strict);
    expect(await refusalOf(refusing.release(req.request_id, await bodyFor(req), 'gateway'))).toBe(
      'unseal.approvers',
    );
    expect((await refusing.store.auditTrail()).at(-1)).toMatchObject({
      event: 'sealed.refused',
      detail: { rule: 'unseal.approvers' },
    });
    const answers = [];
    for (const i of [0, 1, 2])
      answers.push(await (await party(i)).release(req.request_id, await bodyFor(req), 'gateway'));
    const [out] = await open(answers, req);
    expect(out && 'opened' in out).toBe(true);
  });

  it('refuses by rule: disabled, requester, signature, reason, age, paths, replay, sender', async () => {
    const base = defaultPolicy('strategy');
    const noUnseal: Policy = { ...base };
    delete noUnseal.unseal;
    const req = request();
    const body = await bodyFor(req);
    expect(await refusalOf((await party(2, noUnseal)).release(req.request_id, body, 'gateway'))).toBe(
      'unseal.disabled',
    );
    const bob = request({ requester: 'bob' });
    expect(await refusalOf((await party(2)).release(bob.request_id, await bodyFor(bob), 'gateway'))).toBe(
      'unseal.requester',
    );
    const forged = request({}, generateIdentityKey());
    expect(
      await refusalOf((await party(2)).release(forged.request_id, await bodyFor(forged), 'gateway')),
    ).toBe('unseal.signature');
    const terse = request({ reason: 'x' });
    expect(await refusalOf((await party(2)).release(terse.request_id, await bodyFor(terse), 'gateway'))).toBe(
      'unseal.reason',
    );
    const quick: Policy = { ...base, unseal: { ...base.unseal!, max_request_age_seconds: 1 } };
    const old = request({ issued_at: new Date(Date.now() - 60_000).toISOString() });
    expect(
      await refusalOf((await party(2, quick)).release(old.request_id, await bodyFor(old), 'gateway')),
    ).toBe('unseal.max_age');
    const narrow: Policy = { ...base, unseal: { ...base.unseal!, paths: ['/payload/metadata/**'] } };
    const fresh = request();
    const answer = await (await party(2, narrow)).release(fresh.request_id, await bodyFor(fresh), 'gateway');
    expect(answer).toEqual({ released: [], refused: [{ field: fieldId, rule: 'unseal.paths' }] });
    const p = await party(2);
    const again = request();
    await p.release(again.request_id, await bodyFor(again), 'gateway');
    expect(await refusalOf(p.release(again.request_id, await bodyFor(again), 'gateway'))).toBe(
      'unseal.replay',
    );
    const other = request();
    expect(await refusalOf(p.release(other.request_id, await bodyFor(other), 'monitoring-agent'))).toBe(
      'FORBIDDEN',
    );
  });

  it('unseal.max_fields counts the fields the request names, not only those the gateway relays', async () => {
    const base = defaultPolicy('strategy');
    const one: Policy = { ...base, unseal: { ...base.unseal!, max_fields_per_request: 1 } };
    const two = request({ fields: [fieldId, 'f'.repeat(32)] });
    expect(
      await refusalOf((await party(2, one)).release(two.request_id, await bodyFor(two), 'gateway')),
    ).toBe('unseal.max_fields');
  });

  it('a tampered share box is refused by name, and its party can release nothing for it', async () => {
    const wire = JSON.parse(JSON.stringify(sealedWire)) as {
      body: { shares: { box: { ciphertext: string } }[] };
    };
    const ct = wire.body.shares[1]!.box.ciphertext;
    wire.body.shares[1]!.box.ciphertext = `${ct.slice(0, -2)}${ct.endsWith('00') ? '01' : '00'}`;
    const req = request();
    const answer = await (await party(1)).release(req.request_id, await bodyFor(req, [wire]), 'gateway');
    expect(answer).toEqual({ released: [], refused: [{ field: fieldId, rule: 'sealed-field.share' }] });
  });
});

describe('sealed.release: only for a request the log holds', () => {
  it('audits the log index of the request it released for', async () => {
    const req = request();
    const p = await party(0);
    const body = await bodyFor(req);
    await p.release(req.request_id, body, 'gateway');
    expect((await p.store.auditTrail()).at(-1)).toMatchObject({
      event: 'sealed.release',
      detail: { request_log_index: body.request_record.transparencyLog!.logIndex },
    });
  });

  it('refuses unseal.unlogged, releasing nothing, unless the record is the logged, group-signed record of this very request', async () => {
    const req = request();
    const other = request();
    const { signature: _s, ...unsigned } = req;
    const reworded = signUnsealRequest(
      { ...unsigned, reason: 'a different reason, same id' },
      alice.secretKey,
    );
    const byParty = await loggedRequestRecord(set, group, req);
    // A one-leaf log has an empty inclusion path: the entry is moved to an index the tree lacks.
    const moved = JSON.parse(JSON.stringify(await loggedRequestRecord(set, group, req)));
    moved.transparencyLog.logIndex = 1;
    const cases: Array<[string, unknown]> = [
      ['no record', undefined],
      ['signed but not in the log', await loggedRequestRecord(set, group, req, { logged: false })],
      ['signed under another group key', await loggedRequestRecord(set, testGroup(), req)],
      ["another request's record", await loggedRequestRecord(set, group, other)],
      [
        'a record naming another request while carrying this one',
        await loggedRequestRecord(set, group, req, { subjectRequestId: other.request_id }),
      ],
      ['the same id carrying another request', await loggedRequestRecord(set, group, reworded)],
      [
        'a record of the answers, not of the request',
        await loggedRequestRecord(set, group, req, { outcome: 'unseal-answered' }),
      ],
      ['an entry at another index', moved],
    ];
    for (const [what, record] of cases) {
      const p = await party(3);
      const refused = await refusalOf(
        p.release(req.request_id, { request: req, request_record: record, fields: [sealedWire] }, 'gateway'),
      );
      expect(refused, what).toBe('unseal.unlogged');
      expect((await p.store.auditTrail()).at(-1), what).toMatchObject({
        event: 'sealed.refused',
        detail: { rule: 'unseal.unlogged' },
      });
    }
    // The same party releases once the record is the right one (the refusals did not use the id).
    const p = await party(3);
    const answer = await p.release(
      req.request_id,
      { ...(await bodyFor(req)), request_record: byParty },
      'gateway',
    );
    expect(answer.released.map((r) => r.field)).toEqual([fieldId]);
  });
});
