/**
 * `repairOnto` tries another k of the holders when a helper does not help (3-of-5, party 0 lost its
 * share, party 1, the first helper in roster order, does not help: parties 2-4 rebuild it; before,
 * the first k holders were the only set tried). And it never leaves a helper out because an error
 * body names it: `details.claimed_culprits`
 * is an unsigned claim (the client keeps it as "a claim, never culprits"). A helper is left out
 * only when it failed on its own, and only for the lost party whose repair it failed.
 * - 3-of-5, parties 1-3 hold the key, party 0 (lying, listed first) and party 4 (lost its share)
 *   are stale: party 0 answers repair step 3 naming party 1; party 4 is still repaired by 1-3.
 * - 3-of-5, parties 1-4 hold the key, party 0 lost its share: party 1 does not help and names
 *   party 2; parties 2-4 rebuild the share.
 * - the same, but party 1 sends bad parts and the honest helpers' errors name it: the helpers that
 *   accuse are not left out, and parties 2-4 rebuild the share.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frostIdentifier, type PartyStore } from '@aaps/agents';
import { getCiphersuite, PublicKeyPackageCodec, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  fiveParties,
  inProcessClient,
  partyAppsWithKeys,
} from '../../agents/src/party/test-helpers/five-parties.js';
import { repairOnto } from './key-refresh.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-repair-claims-'));
const stores: PartyStore[] = [];

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Five party apps in process, those `holds` picks holding one dealer's key, and `repair(helpers,
 * lost, say)` running `repairOnto` through a client whose `intercept` may answer for a party.
 */
async function partiesHolding(
  holds: (i: number) => boolean,
  intercept: (ids: string[]) => NonNullable<Parameters<typeof inProcessClient>[2]>['intercept'],
) {
  const set = fiveParties();
  const dealt = trustedDealer(suite, set.roster.threshold);
  const { apps } = await partyAppsWithKeys(set, (i) => (holds(i) ? dealt : undefined), { dir, stores });
  const ids = set.roster.parties.map((p) => p.id);
  const client = inProcessClient(set, apps, { timeoutMs: 30_000, intercept: intercept(ids) });
  const repair = (helpers: string[], lost: string[], say: (line: string) => void = () => {}) =>
    repairOnto(
      client,
      set.roster,
      PublicKeyPackageCodec.toJSON(suite.id, dealt.publicPackage),
      helpers,
      lost,
      say,
    );
  /** A party's FROST identifier, as culprits are named. */
  const culprit = (i: number) => frostIdentifier(set.roster, set.roster.parties[i]!);
  return { apps, ids, repair, culprit };
}

describe('repair of two stale parties, the first of them lying about a helper', () => {
  it('the honest stale party is still repaired by the three honest holders', async () => {
    const { apps, ids, repair, culprit } = await partiesHolding(
      (i) => i >= 1 && i <= 3,
      () => (i, path) => {
        if (i === 0 && path === '/v1/repair/step3')
          return Response.json(
            { error: { code: 'INVALID_SECRET_SHARE', message: 'bad sigma', culprits: [culprit(1)] } },
            { status: 400 },
          );
        return undefined;
      },
    );
    const said: string[] = [];
    const out = await repair(ids.slice(1, 4), [ids[0]!, ids[4]!], (l) => said.push(l));
    expect(out.repaired, `${JSON.stringify(out.failed)}\n${said.join('\n')}`).toContain(ids[4]);
    expect(apps[4]!.state.key).toBeDefined();
  });
});

describe('repair with one malicious holder among k + 1 that names another helper', () => {
  it('the other k (honest) holders rebuild the lost share', async () => {
    // Party 1 does not help and its error names party 2 (an unsigned claim).
    const { apps, ids, repair, culprit } = await partiesHolding(
      (i) => i !== 0,
      () => (i, path) => {
        if (i === 1 && path.startsWith('/v1/repair/'))
          return Response.json(
            { error: { code: 'INVALID_SECRET_SHARE', message: 'bad delta', culprits: [culprit(2)] } },
            { status: 400 },
          );
        return undefined;
      },
    );
    const out = await repair(ids.slice(1), [ids[0]!]);
    expect(out.failed, JSON.stringify(out.failed)).toEqual([]);
    expect(apps[0]!.state.key).toBeDefined();
  });
});

/** The helpers a signed party request names (`body.helpers` of its payload), if any. */
function helpersOf(init: RequestInit | undefined): string[] {
  try {
    const helpers = JSON.parse(String(init?.body)).payload?.body?.helpers;
    return Array.isArray(helpers) ? helpers : [];
  } catch {
    return [];
  }
}

describe('repair where the honest helpers accuse a helper that sends bad parts', () => {
  it('leaves no accuser out, and the three honest holders rebuild the lost share', async () => {
    const steps: string[][] = [];
    // Every honest helper in a set with party 1 rejects party 1's part at step 2, naming it.
    const { apps, ids, repair, culprit } = await partiesHolding(
      (i) => i !== 0,
      (ids) => (i, path, init) => {
        if (path === '/v1/repair/step1') steps.push(helpersOf(init));
        if (i > 1 && path === '/v1/repair/step2' && helpersOf(init).includes(ids[1]!))
          return Response.json(
            { error: { code: 'INCONSISTENT_TRANSCRIPT', message: 'bad delta', culprits: [culprit(1)] } },
            { status: 400 },
          );
        return undefined;
      },
    );
    const out = await repair(ids.slice(1), [ids[0]!]);
    expect(out.failed, JSON.stringify(out.failed)).toEqual([]);
    expect(apps[0]!.state.key).toBeDefined();
    // Every set was tried in turn (each of the first three with party 1), the last one without it.
    const sets = [...new Set(steps.map((h) => h.join('.')))];
    expect(sets.at(-1)).toBe(ids.slice(2).join('.'));
    expect(sets).toHaveLength(4);
  });
});

describe('repair with one unhelpful holder among k + 1', () => {
  it('rebuilds the lost share from the other holders', async () => {
    const { apps, ids, repair } = await partiesHolding(
      (i) => i !== 0,
      () => (i, path) => {
        if (i === 1 && path.startsWith('/v1/repair/'))
          return Response.json({ error: { code: 'UNAVAILABLE', message: 'down' } }, { status: 503 });
        return undefined;
      },
    );
    const out = await repair(ids.slice(1), [ids[0]!]);
    expect(out.failed, JSON.stringify(out.failed)).toEqual([]);
    expect(apps[0]!.state.key).toBeDefined();
  });
});
