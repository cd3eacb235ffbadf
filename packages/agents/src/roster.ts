/**
 * The roster: the trust root every party and the gateway share. It names the parties (id, role,
 * department, URL, Ed25519 identity key, FROST identifier), the threshold and ciphersuite, the
 * gateway's identity key and the human approvers' keys. Its digest binds every session to it.
 */
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
import { AGENT_ROLES, type AgentRole, ROLE_PERMISSIONS } from './policy/roles.js';

export interface RosterParty {
  readonly id: string;
  readonly role: AgentRole;
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

const ID = /^[a-z][a-z0-9-]{0,62}$/;
const HEX32 = /^[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A party's URL as a roster may hold it: `http://` (parties speak plain HTTP, every message signed
 * and every secret sealed; an `https://` URL would pass a looser check and fail at the first call).
 */
export function isPartyUrl(url: string): boolean {
  return /^http:\/\/[^\s/]+(\/.*)?$/.test(url);
}

/** Validates a roster, reporting every bad field as a dot path. */
export function parseRoster(json: unknown): Roster {
  const bad: [string, string][] = [];
  const fail = (p: string, w: string) => bad.push([p, w]);
  if (!isObject(json)) throw new ValidationError('INVALID_ARGUMENT', 'roster: expected an object', ['$']);
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
  }
  const principal = (v: unknown, path: string) => {
    if (!isObject(v)) return fail(path, 'expected object');
    if (typeof v.id !== 'string' || !ID.test(v.id)) fail(`${path}.id`, 'expected a lower-case id');
    if (typeof v.identity_key !== 'string' || !HEX32.test(v.identity_key))
      fail(`${path}.identity_key`, 'expected 32-byte hex');
  };
  const ids = new Set<string>();
  const keys = new Set<string>();
  const indexes = new Set<number>();
  if (!Array.isArray(json.parties) || json.parties.length === 0)
    fail('parties', 'expected a non-empty array');
  else {
    json.parties.forEach((p: unknown, i: number) => {
      const path = `parties[${i}]`;
      principal(p, path);
      if (!isObject(p)) return;
      if (!(AGENT_ROLES as readonly unknown[]).includes(p.role))
        fail(`${path}.role`, `expected one of ${AGENT_ROLES.join(', ')}`);
      if (typeof p.department !== 'string' || p.department.length === 0)
        fail(`${path}.department`, 'expected a string');
      if (typeof p.url !== 'string' || !isPartyUrl(p.url))
        fail(
          `${path}.url`,
          'expected an http:// URL (parties speak plain HTTP: docs/threat-model.md, "Assumptions")',
        );
      if (!Number.isSafeInteger(p.index) || (p.index as number) < 1)
        fail(`${path}.index`, 'expected a positive integer');
      if (typeof p.id === 'string') {
        if (ids.has(p.id)) fail(`${path}.id`, 'duplicate id');
        ids.add(p.id);
      }
      if (typeof p.identity_key === 'string') {
        if (keys.has(p.identity_key)) fail(`${path}.identity_key`, 'duplicate key');
        keys.add(p.identity_key);
      }
      if (typeof p.index === 'number') {
        if (indexes.has(p.index)) fail(`${path}.index`, 'duplicate index');
        indexes.add(p.index);
      }
    });
    if (isObject(t) && json.parties.length !== t.max)
      fail('threshold.max', `expected ${json.parties.length} (the number of parties)`);
  }
  principal(json.gateway, 'gateway');
  if (!Array.isArray(json.approvers)) fail('approvers', 'expected an array (may be empty)');
  else for (const [i, a] of json.approvers.entries()) principal(a, `approvers[${i}]`);
  // One id and one key per principal across parties, approvers and the gateway (as the evidence
  // verifier requires of the roster it signs into each Statement): a party named as the gateway,
  // or an approver sharing a party's key, would let one holder speak as two.
  const gateway = isObject(json.gateway) ? json.gateway : {};
  if (typeof gateway.id === 'string' && ids.has(gateway.id)) fail('gateway.id', 'also a party id');
  if (typeof gateway.identity_key === 'string' && keys.has(gateway.identity_key))
    fail('gateway.identity_key', 'also a party key');
  if (typeof gateway.id === 'string') ids.add(gateway.id);
  if (typeof gateway.identity_key === 'string') keys.add(gateway.identity_key);
  if (Array.isArray(json.approvers))
    json.approvers.forEach((a: unknown, i: number) => {
      if (!isObject(a)) return;
      if (typeof a.id === 'string') {
        if (ids.has(a.id))
          fail(`approvers[${i}].id`, 'duplicate id (of a party, an approver or the gateway)');
        ids.add(a.id);
      }
      if (typeof a.identity_key === 'string') {
        if (keys.has(a.identity_key))
          fail(`approvers[${i}].identity_key`, 'duplicate key (of a party, an approver or the gateway)');
        keys.add(a.identity_key);
      }
    });
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
