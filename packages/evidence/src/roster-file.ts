/**
 * The system's `roster.json` read as the verifier's roster: its parties', approvers' and gateway's
 * ids and identity keys, checked by the one rule the verifier holds every roster to
 * (`rosterErrors`: one id and one key per principal). The party's roster parser and
 * `aaps-verify --roster` both read a roster.json through here, so a file one of them accepts the
 * other cannot refuse for its ids or keys. What only the party needs (threshold, ciphersuite, the
 * parties' roles, URLs and FROST indexes, the spelling of ids) it checks on its own.
 */
import { isHexOf } from './encoding.js';
import { isObject, type RosterMember, rosterErrors, type VerifierRoster } from './statement.js';

/** One bad field of a roster.json: its dot path as the file spells it, and what is wrong with it. */
export interface RosterFileProblem {
  readonly field: string;
  readonly problem: string;
}

/** A roster.json read as the verifier's roster, or every bad field of it (each named once). */
export type RosterFileReading =
  | { readonly ok: true; readonly roster: VerifierRoster }
  | { readonly ok: false; readonly problems: readonly RosterFileProblem[] };

/** Where `rosterErrors` names a field of a `VerifierRoster`, the roster.json spelling of it. */
const FILE_FIELD: Readonly<Record<string, string>> = {
  gateway_key: 'gateway.identity_key',
  gateway_id: 'gateway.id',
};

/**
 * Read `json`, a parsed roster.json (`{parties, approvers, gateway: {id, identity_key}, ...}`), as
 * a `VerifierRoster`. Fields it does not name are left alone (they are the party's to check).
 */
export function readRosterFile(json: unknown): RosterFileReading {
  if (!isObject(json)) return { ok: false, problems: [{ field: '$', problem: 'expected an object' }] };
  const problems: RosterFileProblem[] = [];
  const fail = (field: string, problem: string) => {
    if (!problems.some((p) => p.field === field)) problems.push({ field, problem });
  };
  const principal = (value: unknown, at: string) => {
    if (!isObject(value)) return fail(at, 'expected an object');
    if (typeof value.id !== 'string' || value.id.length === 0)
      fail(`${at}.id`, 'expected a non-empty string');
    if (!isHexOf(value.identity_key, 32)) fail(`${at}.identity_key`, 'expected 32-byte lower-case hex');
  };
  const list = (key: 'parties' | 'approvers'): unknown[] => {
    const value = json[key];
    if (!Array.isArray(value)) {
      fail(key, key === 'parties' ? 'expected a non-empty array' : 'expected an array (may be empty)');
      return [];
    }
    if (key === 'parties' && value.length === 0) fail(key, 'expected a non-empty array');
    for (const [i, m] of value.entries()) principal(m, `${key}[${i}]`);
    return value;
  };
  const parties = list('parties');
  const approvers = list('approvers');
  principal(json.gateway, 'gateway');

  const gateway = isObject(json.gateway) ? json.gateway : {};
  const member = (m: unknown) => (isObject(m) ? { id: m.id, identity_key: m.identity_key } : m);
  const converted = {
    parties: Array.isArray(json.parties) ? json.parties.map(member) : json.parties,
    approvers: Array.isArray(json.approvers) ? json.approvers.map(member) : json.approvers,
    gateway_key: gateway.identity_key,
    gateway_id: gateway.id,
  };
  // The verifier's rule decides; here it only names what it refused. A field it names that the
  // shape check above passed repeats the id or key of an earlier principal (the gateway first).
  const holders = [
    { at: 'gateway', of: gateway },
    ...parties.map((m, i) => ({ at: `parties[${i}]`, of: m })),
    ...approvers.map((m, i) => ({ at: `approvers[${i}]`, of: m })),
  ];
  const named = (field: string) =>
    problems.some(
      (p) => field === p.field || field.startsWith(`${p.field}.`) || field.startsWith(`${p.field}[`),
    );
  for (const path of rosterErrors(converted, 'roster')) {
    const bare = path.slice('roster.'.length);
    const field = FILE_FIELD[bare] ?? bare;
    if (named(field)) continue;
    const dot = field.lastIndexOf('.');
    const at = field.slice(0, dot);
    const what = field.slice(dot + 1) === 'id' ? 'id' : 'identity_key';
    const self = holders.findIndex((h) => h.at === at);
    const value = self < 0 ? undefined : (holders[self]!.of as Record<string, unknown>)[what];
    const first = holders.findIndex((h, j) => j < self && isObject(h.of) && h.of[what] === value);
    const noun = what === 'id' ? 'id' : 'key';
    if (first < 0) {
      fail(field, `repeats the ${noun} of another principal`);
    } else {
      fail(field, `also the ${noun} of ${holders[first]!.at}`);
      // A collision with the gateway is the gateway's field too: either may be the one to fix.
      if (first === 0) fail(`gateway.${what}`, `also the ${noun} of ${at}`);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  // Checked above: every principal is an object with a string id and identity key.
  const checked = (m: unknown) => m as RosterMember;
  return {
    ok: true,
    roster: verifierRoster({
      parties: parties.map(checked),
      approvers: approvers.map(checked),
      gateway: checked(gateway),
    }),
  };
}

/** Principals as a roster.json, or anything shaped like one, holds them. */
export interface RosterPrincipals {
  readonly parties: readonly RosterMember[];
  readonly approvers: readonly RosterMember[];
  readonly gateway: RosterMember;
}

/**
 * A roster's principals as the verifier holds them: ids and identity keys only (a party's
 * role, URL or index, an approver's name, are not the verifier's), as the gateway writes them into
 * each Statement and as a party checks a bundle before it signs.
 */
export function verifierRoster(r: RosterPrincipals): VerifierRoster {
  return {
    parties: r.parties.map((p) => ({ id: p.id, identity_key: p.identity_key })),
    approvers: r.approvers.map((a) => ({ id: a.id, identity_key: a.identity_key })),
    gateway_key: r.gateway.identity_key,
    gateway_id: r.gateway.id,
  };
}
