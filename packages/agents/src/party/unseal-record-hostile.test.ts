// Hostile records of an unseal request are refusals (ok: false), never a throw that would reach the party as a 500.
import { describe, expect, it } from 'vitest';
import { fiveParties } from './test-helpers/five-parties.js';
import { recordCheckerFor, testGroup } from './test-helpers/unseal-record.js';

const set = fiveParties({ url: (i) => `http://127.0.0.1:${9000 + i}`, approvers: [] });
const check = recordCheckerFor(set, testGroup());
const req = { request_id: 'ur-1', incident_id: 'inc-1' };

const hostile: [string, unknown][] = [
  ['a string', 'x'],
  ['a number', 5],
  ['an empty object', {}],
  ['an array', []],
  ['statement null', { statement: null, transcript: [] }],
  ['transcript a string', { statement: {}, transcript: 'x' }],
  ['transcript [null]', { statement: {}, transcript: [null], signatures: [] }],
  [
    'deep junk',
    { statement: { predicate: null }, transcript: [{ meta: null, payload: null }], transparencyLog: 5 },
  ],
];

describe('createRequestRecordChecker on hostile records', () => {
  for (const [name, record] of hostile)
    it(`refuses ${name} without throwing`, () => {
      let r: unknown;
      expect(() => {
        r = check(record, req);
      }).not.toThrow();
      expect(r).toMatchObject({ ok: false });
    });
});

import { generateIdentityKey, signUnsealRequest, type UnsealRequest } from '@aaps/mpc-core';
import { loggedRequestRecord } from './test-helpers/unseal-record.js';

describe('createRequestRecordChecker on a valid record with one hostile part', () => {
  const alice = generateIdentityKey();
  const set2 = fiveParties({
    url: (i) => `http://127.0.0.1:${9000 + i}`,
    approvers: [{ id: 'alice', key: alice }],
  });
  const group = testGroup();
  const check2 = recordCheckerFor(set2, group);
  const now = Date.now();
  const r = signUnsealRequest(
    {
      request_id: 'ur-h',
      incident_id: 'inc-1',
      evidence_id: 'ab'.repeat(32),
      fields: ['f'],
      requester: 'alice',
      reason: 'rotate the leaked password',
      issued_at: new Date(now - 1000).toISOString(),
      expires_at: new Date(now + 600_000).toISOString(),
    },
    alice.secretKey,
  ) as UnsealRequest;
  // biome-ignore lint/suspicious/noExplicitAny: each case breaks an arbitrary part of a parsed bundle
  const muts: [string, (b: any) => void][] = [
    [
      'inclusionProof a string',
      (b) => {
        b.transparencyLog.inclusionProof = 'x';
      },
    ],
    [
      'inclusionProof [5]',
      (b) => {
        b.transparencyLog.inclusionProof = [5];
      },
    ],
    [
      'logIndex -1',
      (b) => {
        b.transparencyLog.logIndex = -1;
      },
    ],
    [
      'logIndex huge',
      (b) => {
        b.transparencyLog.logIndex = 1e300;
      },
    ],
    [
      'checkpoint null',
      (b) => {
        b.transparencyLog.checkpoint = null;
      },
    ],
    [
      'transparencyLog array',
      (b) => {
        b.transparencyLog = [];
      },
    ],
    [
      'transcript meta null',
      (b) => {
        b.transcript[0].meta = null;
      },
    ],
    [
      'transcript payload null',
      (b) => {
        b.transcript[0].payload = null;
      },
    ],
    [
      'transcript [1]',
      (b) => {
        b.transcript = [1];
      },
    ],
    [
      'dsse payload junk',
      (b) => {
        b.dsseEnvelope.payload = '!!!';
      },
    ],
    [
      'signatures [null]',
      (b) => {
        b.dsseEnvelope.signatures = [null];
      },
    ],
  ];
  it('valid record is ok', async () => {
    expect(check2(await loggedRequestRecord(set2, group, r), r)).toMatchObject({ ok: true });
  });
  for (const [name, mut] of muts)
    it(`refuses ${name} without throwing`, async () => {
      const b = JSON.parse(JSON.stringify(await loggedRequestRecord(set2, group, r)));
      mut(b);
      let out: unknown;
      expect(() => {
        out = check2(b, r);
      }).not.toThrow();
      expect(out).toMatchObject({ ok: false });
    });
});
