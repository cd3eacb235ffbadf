/**
 * The UnsealAnswer schema's list bound (MAX_UNSEAL_ANSWERS) fits the answer the route gives for
 * the largest group: one entry per roster party (at most MAX_PARTIES) and requested field (at most
 * MAX_UNSEAL_FIELDS). It was 255 parties' worth, so a group above 255 parties got an answer its
 * own served schema refuses. Checked against the schema value, no gateway or parties.
 */
import { MAX_PARTIES, MAX_UNSEAL_FIELDS } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { check } from '../schema/check.js';
import { toJsonSchema } from '../schema/emit.js';
import { MAX_UNSEAL_ANSWERS, UnsealAnswerSchema } from './schemas.js';

/** An answer in which `parties` parties each refused `fields` fields (one shared entry object). */
function answerOf(parties: number, fields: number) {
  const refusal = { field: 'f', party: 'p', decision: 'unavailable', rule: 'UNAVAILABLE' };
  return {
    request_id: 'r',
    incident_id: 'i',
    threshold: 2,
    releases: [],
    refusals: new Array(parties * fields).fill(refusal),
    evidence: { request: 'a', releases: 'b' },
  };
}

describe('UnsealAnswer bound', () => {
  it('is one entry per party of the largest group (MAX_PARTIES) and requested field', () => {
    expect(MAX_UNSEAL_ANSWERS).toBe(MAX_PARTIES * MAX_UNSEAL_FIELDS);
    const emitted = JSON.stringify(toJsonSchema(UnsealAnswerSchema));
    expect(emitted).toContain(`"maxItems":${MAX_PARTIES * MAX_UNSEAL_FIELDS}`);
  });

  it('takes the answer of a 300-party group to a 1024-field request (over 255 parties x 1024)', () => {
    const r = check(UnsealAnswerSchema, answerOf(300, MAX_UNSEAL_FIELDS));
    expect(r.ok ? 'ok' : r.issues.slice(0, 2)).toBe('ok');
  });

  it('refuses one entry more than the largest group at the largest request', () => {
    const over = answerOf(MAX_PARTIES, MAX_UNSEAL_FIELDS);
    over.refusals.push(over.refusals[0]);
    const r = check(UnsealAnswerSchema, over);
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual(['refusals']);
  });
});
