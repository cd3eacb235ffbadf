/**
 * The gateway's copy of the parties' `human_approval.expired` rule
 * (packages/agents/src/policy/rules.ts): each condition names its field.
 */
import { describe, expect, it } from 'vitest';
import {
  approvalWindowIssues,
  checkApprovalWindow,
  MAX_APPROVAL_VALIDITY_SECONDS,
} from './approval-window.js';

const NOW = new Date('2026-11-25T16:00:00Z');
const at = (offsetSeconds: number) => new Date(NOW.getTime() + offsetSeconds * 1000).toISOString();
const fields = (approved_at: string, expires_at: string) =>
  approvalWindowIssues({ approved_at, expires_at }, NOW).map((i) => i.field);

describe('approval validity window', () => {
  it('accepts up to the parties’ maximum validity and clock skew', () => {
    expect(MAX_APPROVAL_VALIDITY_SECONDS).toBe(86400);
    expect(fields(at(-60), at(3600))).toEqual([]);
    expect(fields(at(-60), at(-60 + 86400))).toEqual([]);
    expect(fields(at(300), at(3600))).toEqual([]);
  });

  it('names the field of each condition the parties check', () => {
    expect(fields(at(-60), at(-60 + 86401))).toEqual(['expires_at']);
    expect(fields(at(-60), at(-60))).toEqual(['expires_at', 'expires_at']);
    expect(fields(at(-3600), at(-1))).toEqual(['expires_at']);
    expect(fields(at(-3600), at(0))).toEqual(['expires_at']);
    expect(fields(at(301), at(3600))).toEqual(['approved_at']);
    expect(fields('2026-13-45T10:00:00Z', at(3600))).toEqual(['approved_at']);
    expect(fields(at(-60), 'not a date')).toEqual(['expires_at']);
    expect(fields('2000-01-01T00:00:00Z', '9999-12-31T23:59:59Z')).toEqual(['expires_at']);
  });

  it('throws one 400 naming every field', () => {
    try {
      checkApprovalWindow({ approved_at: at(600), expires_at: at(-60) }, NOW);
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', fields: ['approved_at', 'expires_at'] });
    }
  });
});
