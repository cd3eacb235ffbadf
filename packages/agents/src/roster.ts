/**
 * The roster: the trust root every party and the gateway share. It names the parties (id, role,
 * department, URL, Ed25519 identity key, FROST identifier), the threshold and ciphersuite, the
 * gateway's identity key and the human approvers' keys. Its digest binds every session to it.
 */
import { readRosterFile } from '@aaps/evidence';
import {
  bytesToHex,
  type CiphersuiteId,
  canonicalize,
  getCiphersuite,
  hexToBytes,
  type Identifier,
  identifierFromNumber,
  isCiphersuiteId,
  ValidationError,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { PARTY_ROLES, type PartyRole, ROLE_PERMISSIONS } from './policy/roles.js';

export interface RosterParty {
  readonly id: string;
  /** One of the roles the workflow runs a step for: `maintenance` is the gateway's executor, no party. */
  readonly role: PartyRole;
  readonly department: string;
  readonly url: string;
  /** Ed25519 identity public key, hex. */
  readonly identity_key: string;
  /** 1-based FROST participant number; the FROST identifier is derived from it. */
  readonly index: number;
}

export interface RosterPrincipal {
  readonly id: string;
  readonly identity_key: string;
}

export interface Roster {
  readonly version: 1;
  readonly ciphersuite: CiphersuiteId;
  readonly threshold: { readonly min: number; readonly max: number };
  readonly parties: readonly RosterParty[];
  readonly gateway: RosterPrincipal;
  readonly approvers: readonly RosterPrincipal[];
}

/** How a roster id is spelled (see {@link isRosterId}). */
export const ROSTER_ID = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * What a party's role must be, for a refusal: the roles the gateway's workflow runs a step for.
 * `maintenance` is no party: the gateway's executor carries out an approved change (docs/architecture.md).
 */
export const PARTY_ROLE_EXPECTED = `expected one of ${PARTY_ROLES.join(', ')} (the roles the workflow runs; maintenance is the gateway's executor, not a party)`;

/**
 * Whether `id` is spelled as a roster id (a party's, an approver's, the gateway's): lower-case
 * letters, digits and `-`, starting with a letter, at most 63 characters. Ids also name files
 * (`parties/<id>/`, `approvers/<id>.key`), so a tool that builds a path from one checks it first.
 */
export function isRosterId(id: string): boolean {
  return ROSTER_ID.test(id);
}
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A party's URL as a roster may hold it: `http://` (parties speak plain HTTP, every message signed
 * and every secret sealed; an `https://` URL would pass a looser check and fail at the first call).
 */
export function isPartyUrl(url: string): boolean {
  return /^http:\/\/[^\s/]+(\/.*)?$/.test(url);
}

/**
 * The smallest threshold that is a majority of `n` parties (k > n/2): any two quorums then share a
 * party (docs/threat-model.md, "Assumptions"). The roster and the gateway's `--threshold` require it.
 */
export function smallestMajority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * Validates a roster, reporting every bad field as a dot path. The parties', approvers' and
 * gateway's ids and keys, and the rule of one id and one key per principal, are the evidence
 * verifier's reading of a roster.json (`readRosterFile`), so a roster the parties sign under is one
 * `aaps-verify` accepts; the rest (version, suite, threshold, the parties' roles, departments, URLs
 * and FROST indexes, and the spelling of ids) is the party's own.
 */
export function parseRoster(json: unknown): Roster {
  if (!isObject(json)) throw new ValidationError('INVALID_ARGUMENT', 'roster: expected an object', ['$']);
  const bad: [string, string][] = [];
  const fail = (p: string, w: string) => bad.push([p, w]);
  if (json.version !== 1) fail('version', 'expected 1');
  if (!isCiphersuiteId(json.ciphersuite)) fail('ciphersuite', 'unknown ciphersuite');
  const t = json.threshold;
  if (
    !isObject(t) ||
    !Number.isSafeInteger(t.min) ||
    !Number.isSafeInteger(t.max) ||
    (t.min as number) < 2 ||
    (t.max as number) < (t.min as number)
  ) {
    fail('threshold', 'expected {min, max} with 2 <= min <= max');
  } else if ((t.min as number) < smallestMajority(t.max as number)) {
    // Two quorums must share a party: else two disjoint ones could each sign a checkpoint of one
    // log size with different roots, or opposite approvals, and aggregation loses its honest majority.
    fail(
      'threshold.min',
      `expected more than half of max (${t.max}): at least ${smallestMajority(t.max as number)} (a group made with less re-keys: docs/api.md, "Upgrading a group whose threshold is not a majority")`,
    );
  }
  const read = readRosterFile(json);
  if (!read.ok) for (const { field, problem } of read.problems) fail(field, problem);
  // The party's spelling of ids (a string id of another spelling is refused here; a non-string one
  // is named above): lower-case, as ids also name files (`parties/<id>/`, `approvers/<id>.key`).
  const spelled = (v: unknown, path: string) => {
    if (isObject(v) && typeof v.id === 'string' && v.id.length > 0 && !ROSTER_ID.test(v.id))
      fail(`${path}.id`, 'expected a lower-case id');
  };
  if (Array.isArray(json.parties)) {
    const indexes = new Set<number>();
    json.parties.forEach((p: unknown, i: number) => {
      const path = `parties[${i}]`;
      spelled(p, path);
      if (!isObject(p)) return;
      if (!(PARTY_ROLES as readonly unknown[]).includes(p.role)) fail(`${path}.role`, PARTY_ROLE_EXPECTED);
      if (typeof p.department !== 'string' || p.department.length === 0)
        fail(`${path}.department`, 'expected a string');
      if (typeof p.url !== 'string' || !isPartyUrl(p.url))
        fail(
          `${path}.url`,
          'expected an http:// URL (parties speak plain HTTP: docs/threat-model.md, "Assumptions")',
        );
      if (!Number.isSafeInteger(p.index) || (p.index as number) < 1)
        fail(`${path}.index`, 'expected a positive integer');
      if (typeof p.index === 'number') {
        if (indexes.has(p.index)) fail(`${path}.index`, 'duplicate index');
        indexes.add(p.index);
      }
    });
    if (isObject(t) && json.parties.length > 0 && json.parties.length !== t.max)
      fail('threshold.max', `expected ${json.parties.length} (the number of parties)`);
  }
  spelled(json.gateway, 'gateway');
  if (Array.isArray(json.approvers))
    for (const [i, a] of json.approvers.entries()) spelled(a, `approvers[${i}]`);
  if (bad.length) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `invalid roster: ${bad.map(([p, w]) => `${p}: ${w}`).join('; ')}`,
      bad.map(([p]) => p),
    );
  }
  return json as unknown as Roster;
}

/** SHA-256 over the roster's RFC 8785 canonical JSON, hex. */
export function rosterDigest(roster: Roster): string {
  return bytesToHex(sha256(new TextEncoder().encode(canonicalize(roster))));
}

export function frostIdentifier(roster: Roster, party: RosterParty): Identifier {
  return identifierFromNumber(getCiphersuite(roster.ciphersuite), party.index);
}

/** A roster principal's identity key: the gateway or a party (only the gateway may call a party: `authenticate`). */
export function principalKey(roster: Roster, id: string): Uint8Array | undefined {
  if (roster.gateway.id === id) return hexToBytes(roster.gateway.identity_key);
  const p = roster.parties.find((x) => x.id === id);
  return p ? hexToBytes(p.identity_key) : undefined;
}

export function approverKey(roster: Roster, id: string): Uint8Array | undefined {
  const a = roster.approvers.find((x) => x.id === id);
  return a ? hexToBytes(a.identity_key) : undefined;
}

/** The party named `id`; undefined for any other id, or for anything that is not a string. */
export function partyById(roster: Roster, id: unknown): RosterParty | undefined {
  return typeof id === 'string' ? roster.parties.find((p) => p.id === id) : undefined;
}

export function partyByIdentifier(roster: Roster, identifier: Identifier): RosterParty | undefined {
  return roster.parties.find((p) => frostIdentifier(roster, p) === identifier);
}

/**
 * The parties every approval quorum must include: those whose role holds the veto (quality
 * assurance), at most k of them. Each party refuses to sign an approval whose signing package
 * leaves one out (`approval.veto_quorum`), so a coordinator cannot route around a veto.
 */
export function vetoHolders(roster: Roster): RosterParty[] {
  return roster.parties.filter((p) => ROLE_PERMISSIONS[p.role].veto_power).slice(0, roster.threshold.min);
}
