/**
 * The gateway's LevelDB: incidents (CBOR; each transcript envelope under its own key, written
 * once, so saving a step writes the small record and the new envelopes, not the whole
 * transcript again), dedup keys, correlation keys (each names the last incident opened for it),
 * executed fixes by recurrence
 * key, the listing index, evidence bundles by id
 * and by log index, deployment history, and the transparency log's key-value store. The only
 * file that opens LevelDB. Every write that touches more than one key is one atomic batch.
 */
import { claimStoreFormat, type DeploymentRecord } from '@aaps/agents';
import type { EvidenceBundle, LogStore, LogStoreOp } from '@aaps/evidence';
import { decodeCbor, encodeCbor, firstMessageLine, innermostCause, ValidationError } from '@aaps/mpc-core';
import { Level } from 'level';
import { decodeListCursor, encodeListCursor } from './list-cursor.js';
import { INCIDENT_STATES, type IncidentState } from './workflow/machine.js';
import type { IncidentRecord } from './workflow/record.js';

type Bytes = Uint8Array;

export interface ListOptions {
  state?: IncidentState;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

/** An incident without its transcript: what the read API shows. */
export type IncidentSummary = Omit<IncidentRecord, 'transcript'>;

/** What `createIncident` did: created the record, or found the incident a key names. */
export interface CreateOutcome {
  created: boolean;
  id: string;
  /**
   * Not created because an open incident has the record's correlation key: the record's dedup
   * keys now name that incident (another occurrence joined it). False when a dedup key was known.
   */
  joined: boolean;
}

/** An executed fix, remembered under each recurrence key of its incident. */
export interface RecordedFix {
  key: string;
  incident_id: string;
  /** When the fix was executed (RFC 3339). */
  fixed_at: string;
}

export interface GatewayStore {
  getIncident(id: string): Promise<IncidentRecord | undefined>;
  /** The incident without its transcript (one read instead of one per envelope). */
  getIncidentSummary(id: string): Promise<IncidentSummary | undefined>;
  /** Incident id for a dedup key. */
  findByDedupKey(key: string): Promise<string | undefined>;
  /** Incident id for the first of `keys` that names one. */
  findByDedupKeys(keys: readonly string[]): Promise<string | undefined>;
  /**
   * Writes a new incident with its dedup keys in one batch, unless one of the keys already names
   * an incident (then nothing is written), or an open incident has the same correlation key, if
   * the record has one (then only the new dedup keys are recorded, naming it: `joined`). Either
   * way that incident's id is returned. Dedup keys are kept for good, also after the incident ends.
   */
  createIncident(record: IncidentRecord): Promise<CreateOutcome>;
  /**
   * The most recent executed fix that one of `keys` names. A fix is remembered under each of its
   * incident's `recurrence_keys` when the record is saved right after the `executed` step (a later
   * fix under the same key replaces it).
   */
  latestFix(keys: readonly string[]): Promise<RecordedFix | undefined>;
  /**
   * Before incident `id`'s automatic fix is approved: the latest executed fix by another incident
   * within `windowMs` of `at` under one of `keys`, or a claim by another incident that is still
   * open (`pending`), if either exists; otherwise `id` claims each key as of `at` (so an incident
   * of the same failure deciding meanwhile sees it) and `undefined` is returned. A claim counts
   * only while its incident is open: one that ended without executing (refused, resolved by its
   * source) blocks nothing. Claims are kept apart from executed fixes, which intake reads.
   * Atomic with other claims and with intake.
   */
  claimFix(
    id: string,
    keys: readonly string[],
    at: string,
    windowMs: number,
  ): Promise<(RecordedFix & { pending?: true }) | undefined>;
  /** Adds dedup keys to an existing incident (e.g. a GitHub delivery id). */
  putIncident(record: IncidentRecord, extraDedupKeys?: string[]): Promise<void>;
  listIncidents(opts: ListOptions): Promise<{ incidents: IncidentSummary[]; next_cursor: string | null }>;
  /**
   * Ids of the incidents not in a terminal state or awaiting a person (ended but not yet sealed
   * among them), for `resumeIncidents`. Ids only: after a long evidence outage there may be
   * thousands, and the runner loads each record when it takes the incident up.
   */
  activeIncidentIds(): Promise<string[]>;
  /**
   * Unseal requests whose request is in the log and whose answers are not (an entry of an
   * incident's `unseals` with `release_evidence_id: null`), for the unseal route's resume.
   */
  pendingUnseals(): Promise<{ requestId: string; incidentId: string }[]>;
  /**
   * A resolve the intake accepted while the incident's run held it, kept until it is applied (the
   * runner deletes it then), so a restart in between applies it instead of losing it.
   */
  putPendingResolve(id: string, resolve: PendingResolve): Promise<void>;
  deletePendingResolve(id: string): Promise<void>;
  pendingResolves(): Promise<{ id: string; resolve: PendingResolve }[]>;
  putEvidence(id: string, bundle: EvidenceBundle, incident: IncidentRecord): Promise<void>;
  getEvidence(id: string): Promise<EvidenceBundle | undefined>;
  evidenceIdAt(logIndex: number): Promise<string | undefined>;
  deploymentHistory(workload: string): Promise<DeploymentRecord[]>;
  /** Add `record` to its workload's history, replacing one of the same revision. */
  recordDeployment(record: DeploymentRecord): Promise<void>;
  /**
   * Change a workload's history in one read-modify-write, serialised with every other change of
   * any history, so concurrent rollouts of one workload each keep theirs (the revision a rollout
   * takes is computed inside `change`). The list is kept sorted by revision, the last 50.
   */
  updateDeploymentHistory(
    workload: string,
    change: (history: readonly DeploymentRecord[]) => DeploymentRecord[],
  ): Promise<void>;
  /** The transparency log's store. */
  readonly log: LogStore;
  /** Small values the gateway keeps (e.g. the local coordinator's key material). */
  getMeta(key: string): Promise<Uint8Array | undefined>;
  putMeta(key: string, value: Uint8Array): Promise<void>;
  /**
   * Writes `value` under `key` unless the key is already set, and says whether it wrote. The read
   * and the write are serialised with incident creation, so of concurrent calls with one key exactly
   * one gets `true`.
   */
  claimMeta(key: string, value: Uint8Array): Promise<boolean>;
  /**
   * Whether the last write reached the database. LevelDB keeps failing once a write failed for lack
   * of space (its error sticks until the database is reopened), so a failing store is reported by
   * `/healthz` and needs a restart once the cause is gone.
   */
  writeHealth(): StoreHealth;
  close(): Promise<void>;
}

/** A source's resolve of an incident: when the source says it ended, who said so, with which token. */
export interface PendingResolve {
  at: string;
  actor: string;
  token?: string;
}

export type StoreHealth = { ok: true } | { ok: false; since: string; error: string };

/**
 * A write the database did not take (a full disk, a closed database). Not the incident's fault:
 * the workflow leaves the incident as last saved and tries again later.
 */
export class StoreWriteError extends Error {
  constructor(cause: unknown) {
    // LevelDB's own error wraps the I/O error that says why (ENOSPC, say).
    super(`the database did not take the write: ${firstMessageLine(innermostCause(cause) ?? cause)}`, {
      cause,
    });
    this.name = 'StoreWriteError';
  }
}

const TERMINAL = new Set(['resolved', 'failed', 'rolled_back', 'rejected']);
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
const pad = (n: number) => n.toString(16).padStart(16, '0');

/** Listing key: creation time then id, so pages are in arrival order and stable. */
const listKey = (r: Pick<IncidentRecord, 'created_at' | 'id'>) => `${r.created_at}|${r.id}`;

/**
 * A new incident's `created_at`, so that its listing key sorts after `last` (the greatest one
 * written): its own time when that is so; else the last one's time (when its id sorts after the
 * last one's) or one millisecond later. The wall clock can step back (an NTP correction) and an id
 * taken before an await can be written after a later one; creation times never go back, as the
 * ids' do not (`incident-ids.ts`).
 */
export function listedAfter(last: string, r: Pick<IncidentRecord, 'created_at' | 'id'>): string {
  if (last === '' || listKey(r) > last) return r.created_at;
  const bar = last.indexOf('|');
  const lastAt = last.slice(0, bar);
  if (r.id > last.slice(bar + 1)) return lastAt;
  const next = Date.parse(lastAt) + 1;
  return Number.isFinite(next) ? new Date(next).toISOString() : r.created_at;
}

/** One key space per kind of record, as `<prefix>!<key>` in one LevelDB. */
const SPACES = {
  incidents: 'i',
  transcript: 'n',
  dedup: 'd',
  byTime: 't',
  byState: 's',
  active: 'a',
  correlation: 'c',
  fixes: 'f',
  claims: 'k',
  evidence: 'e',
  evidenceIndex: 'x',
  history: 'h',
  log: 'l',
  meta: 'm',
  unsealPending: 'u',
  resolvePending: 'r',
} as const;
type Space = keyof typeof SPACES;
type Op = { type: 'put'; key: string; value: Bytes } | { type: 'del'; key: string };

const k = (space: Space, key: string) => `${SPACES[space]}!${key}`;
/** Listing key within one state: `?state=` pages read only that state's incidents. */
const stateKey = (state: string, listing: string) => `${state}|${listing}`;
/** Meta key set once the state index covers every incident (built on open where it is missing). */
const STATE_INDEX_META = 'index.by-state.v1';
/** The layout this build reads and writes, kept under `m!format`; a later one is refused at open. */
export const GATEWAY_STORE_FORMAT = 1;
const INCIDENT_PREFIX = `${SPACES.incidents}!`;
/**
 * Incident records kept in memory after they are written: more than the incidents in flight at
 * once, which are the ones read back (about 5 KB each, so a few MiB).
 */
const WRITTEN_CACHE_LIMIT = 512;
const put = (space: Space, key: string, value: Bytes): Op => ({ type: 'put', key: k(space, key), value });
const del = (space: Space, key: string): Op => ({ type: 'del', key: k(space, key) });
const bytes = (v: Uint8Array | undefined) => (v === undefined ? undefined : new Uint8Array(v));

/**
 * Indexes every incident by state, once, in a database written before the state index existed
 * (then marks it built). Batches of 1,000; a crash part way leaves the mark unset, and the next
 * open builds it again (each entry is a put of the same value).
 */
async function buildStateIndex(db: Level<string, Bytes>): Promise<void> {
  if ((await db.get(k('meta', STATE_INDEX_META))) !== undefined) return;
  let ops: Op[] = [];
  const range = { gt: `${SPACES.incidents}!`, lt: `${SPACES.incidents}"` };
  for await (const [, value] of db.iterator(range)) {
    const record = decodeCbor(value) as IncidentSummary;
    ops.push(put('byState', stateKey(record.state, listKey(record)), utf8.encode(record.id)));
    if (ops.length >= 1000) {
      await db.batch(ops);
      ops = [];
    }
  }
  ops.push(put('meta', STATE_INDEX_META, new Uint8Array([1])));
  await db.batch(ops);
}

/** The meta key of the date a gateway's evidence is valid from, written once, before it first serves. */
export const VALID_FROM_META = 'valid-from';

/**
 * The keys a start writes in a gateway store before it takes a request (and a start stopped then
 * leaves): the layout's format and the state index's mark (`openGatewayStore`), and the valid-from
 * date (`startGateway`). Any other key was written while it served.
 */
const WRITTEN_BEFORE_SERVING = new Set(
  ['format', STATE_INDEX_META, VALID_FROM_META].map((m) => k('meta', m)),
);

/** What {@link servedRecords} finds: the log's entries, and whether anything was written while serving. */
export interface ServedRecords {
  /** The transparency log's size (`undefined` if its stored size does not read as a count). */
  logEntries: number | undefined;
  /** Whether the store holds any key a start writes only while it serves. */
  served: boolean;
}

/**
 * Whether a gateway served from the existing store at `location` (the caller checks there is one:
 * this file does no file I/O of its own): its log's size and whether it holds any key but those a
 * start writes before it serves ({@link WRITTEN_BEFORE_SERVING}): an
 * incident, a bundle, a log entry or checkpoint, an unseal's claim, in this build's layout or any
 * other. Reads at most a few keys and writes none (opening recovers LevelDB's own journal, as every
 * open does; never creates a store). Throws what opening throws: a store another process holds
 * (`LEVEL_LOCKED` as the cause) or one that does not open.
 */
export async function servedRecords(location: string): Promise<ServedRecords> {
  const db = new Level<string, Bytes>(location, { valueEncoding: 'view', createIfMissing: false });
  await db.open();
  try {
    const size = await db.get(k('log', 'size'));
    const text = size === undefined ? '0' : new TextDecoder().decode(size);
    const logEntries = /^(?:0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : undefined;
    const any = async (range: { lt: string } | { gte: string }) =>
      (await db.keys({ ...range, limit: 1 }).all()).length > 0;
    // Keys sort as strings: before the meta space, after it, then the meta keys themselves (few
    // are written before serving, so the first one that is not ends the scan).
    let served = size !== undefined || (await any({ lt: 'm!' })) || (await any({ gte: 'm"' }));
    if (!served) {
      for await (const key of db.keys({ gte: 'm!', lt: 'm"' })) {
        if (!WRITTEN_BEFORE_SERVING.has(key)) {
          served = true;
          break;
        }
      }
    }
    return { logEntries, served };
  } finally {
    await db.close();
  }
}

export async function openGatewayStore(location: string): Promise<GatewayStore> {
  const db = new Level<string, Bytes>(location, { valueEncoding: 'view' });
  await db.open();
  try {
    await claimStoreFormat(db, {
      key: k('meta', 'format'),
      current: GATEWAY_STORE_FORMAT,
      what: `gateway store at ${location}`,
    });
  } catch (e) {
    await db.close();
    throw e;
  }
  await buildStateIndex(db);
  // Incident records as last written by this process (the only writer), so the read routes and
  // every server-sent-events wake-up do not go to LevelDB for what was just saved. Filled only
  // after a batch is durable; bounded (oldest written first out).
  const written = new Map<string, Bytes>();
  const get = async (space: Space, key: string) => {
    const full = k(space, key);
    const hit = space === 'incidents' ? written.get(full) : undefined;
    return hit !== undefined ? new Uint8Array(hit) : bytes(await db.get(full));
  };
  // A batch that writes incident records waits for the batches in flight that write the same
  // records, so the memory map is updated per record in the order LevelDB applied them (two
  // batches in flight could otherwise finish out of order). Batches for other records do not wait.
  const inFlight = new Map<string, Promise<void>>();
  let health: StoreHealth = { ok: true };
  /**
   * Every write, recording whether it reached the database. `sync` waits until the operating
   * system has it on disk (the transparency log: the parties witness its checkpoints with synced
   * writes, so a power loss must not take back a tail they signed).
   */
  const write = (ops: Op[], sync = false): Promise<void> =>
    db.batch(ops, { sync }).then(
      () => {
        health = { ok: true };
      },
      (e: unknown) => {
        const error = new StoreWriteError(e);
        if (health.ok) health = { ok: false, since: new Date().toISOString(), error: error.message };
        throw error;
      },
    );
  const batch = (ops: Op[]): Promise<void> => {
    const keys = [...new Set(ops.filter((op) => op.key.startsWith(INCIDENT_PREFIX)).map((op) => op.key))];
    if (keys.length === 0) return write(ops);
    const before = keys.flatMap((key) => inFlight.get(key) ?? []);
    const writing = Promise.all(before).then(async () => {
      await write(ops);
      for (const op of ops) {
        if (!op.key.startsWith(INCIDENT_PREFIX)) continue;
        written.delete(op.key);
        // A copy of its own: an encoder's output may be a view into a much larger buffer it
        // reuses, which keeping the view would keep alive (measured: the gateway grew by 39 MiB
        // over 3,000 incidents keeping views, against 9.5 MiB before there was a map).
        if (op.type === 'put') written.set(op.key, new Uint8Array(op.value));
      }
      while (written.size > WRITTEN_CACHE_LIMIT) written.delete(written.keys().next().value as string);
    });
    const settled = writing.catch(() => undefined);
    for (const key of keys) inFlight.set(key, settled);
    void settled.then(() => {
      for (const key of keys) if (inFlight.get(key) === settled) inFlight.delete(key);
    });
    return writing;
  };
  /** Keys of `space` after `after`, below `below` (default: the whole space), without the prefix. */
  async function* scan(space: Space, after?: string, below?: string) {
    const prefix = `${SPACES[space]}!`;
    const range = {
      gt: after === undefined ? prefix : prefix + after,
      lt: below === undefined ? `${SPACES[space]}"` : prefix + below,
    };
    for await (const [key, value] of db.iterator(range)) yield [key.slice(prefix.length), value] as const;
  }

  /** A stored record: the incident without its transcript, and how many envelopes it has. */
  type Stored = IncidentSummary & { transcript_length?: number; transcript?: IncidentRecord['transcript'] };
  const envelopeKey = (id: string, i: number) => `${id}!${pad(i)}`;
  const decodeSummary = (v: Bytes | undefined): IncidentSummary | undefined => {
    if (v === undefined) return undefined;
    const { transcript: _t, transcript_length: _n, ...summary } = decodeCbor(v) as Stored;
    return summary;
  };
  const loadIncident = async (id: string): Promise<IncidentRecord | undefined> => {
    const v = await get('incidents', id);
    if (v === undefined) return undefined;
    const stored = decodeCbor(v) as Stored;
    const { transcript_length: n, ...rest } = stored;
    // Records written before transcripts had their own keys carry them inline.
    if (Array.isArray(rest.transcript)) return rest as IncidentRecord;
    const keys = Array.from({ length: n ?? 0 }, (_, i) => k('transcript', envelopeKey(id, i)));
    const values = keys.length === 0 ? [] : await db.getMany(keys);
    if (values.some((x) => x === undefined)) {
      throw new ValidationError('INTERNAL', `incident ${id}: transcript entries missing`, ['transcript']);
    }
    return { ...rest, transcript: values.map((x) => decodeCbor(x!)) } as IncidentRecord;
  };
  /** Envelopes of each incident known to be stored: they are immutable, so only new ones are written. */
  const storedEnvelopes = new Map<string, number>();

  /**
   * The greatest listing key written (read once from the index): each new incident's must be
   * greater, so a client paging through the list, or holding a cursor, sees every incident that
   * arrives after it, in the order they were created. See {@link listedAfter}.
   */
  let lastListing: string | undefined;
  const greatestListing = async (): Promise<string> => {
    if (lastListing === undefined) {
      lastListing = '';
      const prefix = `${SPACES.byTime}!`;
      for await (const key of db.keys({ gt: prefix, lt: `${SPACES.byTime}"`, reverse: true, limit: 1 }))
        lastListing = key.slice(prefix.length);
    }
    return lastListing;
  };

  /** One process writes incidents; creation is serialised so two requests cannot both create. */
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };

  /** Deployment-history changes, one at a time (`updateDeploymentHistory`). */
  let historyChain: Promise<unknown> = Promise.resolve();

  /**
   * Each incident's state as this process last planned a write of it, so the next write moves its
   * state-index entry without reading the record (and plans stay in call order: this is read and
   * set synchronously). Forgotten once the incident is settled, so the map stays small.
   */
  const indexedState = new Map<string, string>();

  /**
   * The writes that save `record` (`created`: its first write, with nothing to replace), and what
   * to remember once they are written.
   */
  const incidentOps = (record: IncidentRecord, created: boolean): { ops: Op[]; done: () => void } => {
    const { transcript, ...summary } = record;
    const stored: Stored = { ...summary, transcript_length: transcript.length };
    const listing = listKey(record);
    const ops: Op[] = [
      put('incidents', record.id, encodeCbor(stored)),
      put('byTime', listing, utf8.encode(record.id)),
      put('byState', stateKey(record.state, listing), utf8.encode(record.id)),
    ];
    // Its entry under the state it leaves goes. Not known here (a new process, or a settled
    // incident written again): under every other state, once.
    const previous = created ? record.state : indexedState.get(record.id);
    for (const state of previous === undefined ? INCIDENT_STATES : [previous]) {
      if (state !== record.state) ops.push(del('byState', stateKey(state, listing)));
    }
    const from = Math.min(storedEnvelopes.get(record.id) ?? 0, transcript.length);
    for (let i = from; i < transcript.length; i++) {
      ops.push(put('transcript', envelopeKey(record.id, i), encodeCbor(transcript[i])));
    }
    const settled = TERMINAL.has(record.state) && record.evidence_id !== undefined;
    if (settled) indexedState.delete(record.id);
    else indexedState.set(record.id, record.state);
    if (settled || record.state === 'awaiting_human') ops.push(del('active', record.id));
    else ops.push(put('active', record.id, utf8.encode(record.state)));
    // A correlation key is never deleted here: by the time an ended incident is written again (its
    // sealing, a late resolve, an unseal) a newer open incident may hold the key, and deleting it
    // would let the next occurrence open a second incident beside that one. `createIncident`
    // ignores, and overwrites, a key that names an ended incident.
    ops.push(...fixOps(record));
    // Unseal requests logged but not yet answered in the log: `pendingUnseals` finds them.
    for (const u of record.unseals ?? []) {
      if (u.release_evidence_id === null)
        ops.push(put('unsealPending', u.request_id, utf8.encode(record.id)));
      else ops.push(del('unsealPending', u.request_id));
    }
    const done = () => {
      // A settled incident gets no more envelopes: forget it, so the map stays small.
      if (settled) storedEnvelopes.delete(record.id);
      else storedEnvelopes.set(record.id, transcript.length);
    };
    return { ops, done };
  };
  /** Remembers the fix under each recurrence key on the save that records its execution. */
  const fixOps = (record: IncidentRecord): Op[] => {
    const last = record.timeline[record.timeline.length - 1];
    if (last?.event !== 'executed' || record.recurrence_keys === undefined) return [];
    const value = encodeCbor({ incident_id: record.id, fixed_at: last.at });
    return record.recurrence_keys.map((key) => put('fixes', key, value));
  };
  const writeIncident = async (record: IncidentRecord, extra: Op[] = [], created = false) => {
    const { ops, done } = incidentOps(record, created);
    try {
      await batch([...ops, ...extra]);
    } catch (e) {
      // Not written: its indexed state is unknown again, so its next write clears every other one.
      indexedState.delete(record.id);
      throw e;
    }
    done();
  };

  const store: GatewayStore = {
    getIncident: loadIncident,
    async getIncidentSummary(id) {
      return decodeSummary(await get('incidents', id));
    },
    async findByDedupKey(key) {
      const v = await get('dedup', key);
      return v === undefined ? undefined : fromUtf8.decode(v);
    },
    async findByDedupKeys(keys) {
      for (const key of keys) {
        const id = await store.findByDedupKey(key);
        if (id !== undefined) return id;
      }
      return undefined;
    },
    createIncident(record) {
      return serial(async () => {
        const id = await store.findByDedupKeys(record.dedup_keys);
        if (id !== undefined) return { created: false, id, joined: false };
        // Another occurrence of a problem whose incident is still open joins that incident.
        const correlation = record.correlation_key;
        const openId = correlation === undefined ? undefined : await get('correlation', correlation);
        if (openId !== undefined) {
          const id = fromUtf8.decode(openId);
          const open = decodeSummary(await get('incidents', id));
          if (open !== undefined && !TERMINAL.has(open.state)) {
            await batch(record.dedup_keys.map((key) => put('dedup', key, openId)));
            return { created: false, id, joined: true };
          }
        }
        const extra = record.dedup_keys.map((key) => put('dedup', key, utf8.encode(record.id)));
        for (const key of new Set([
          ...(correlation === undefined ? [] : [correlation]),
          ...(record.joinable_by ?? []),
        ]))
          extra.push(put('correlation', key, utf8.encode(record.id)));
        record.created_at = listedAfter(await greatestListing(), record);
        await writeIncident(record, extra, true);
        lastListing = listKey(record);
        return { created: true, id: record.id, joined: false };
      });
    },
    async latestFix(keys) {
      let latest: RecordedFix | undefined;
      for (const key of new Set(keys)) {
        const v = await get('fixes', key);
        if (v === undefined) continue;
        const fix = decodeCbor(v) as Omit<RecordedFix, 'key'>;
        if (latest === undefined || Date.parse(fix.fixed_at) > Date.parse(latest.fixed_at))
          latest = { key, ...fix };
      }
      return latest;
    },
    claimFix(id, keys, at, windowMs) {
      return serial(async () => {
        const within = (t: string) => Date.parse(at) - Date.parse(t) <= windowMs;
        const fix = await store.latestFix(keys);
        if (fix !== undefined && fix.incident_id !== id && within(fix.fixed_at)) return fix;
        for (const key of new Set(keys)) {
          const v = await get('claims', key);
          if (v === undefined) continue;
          const claim = decodeCbor(v) as Omit<RecordedFix, 'key'>;
          if (claim.incident_id === id || !within(claim.fixed_at)) continue;
          const other = decodeSummary(await get('incidents', claim.incident_id));
          if (other === undefined) continue;
          if (!TERMINAL.has(other.state)) return { key, ...claim, pending: true as const };
          // Ended since (this check reads while that incident runs): it counts if it executed.
          const executed = other.timeline.find((e) => e.event === 'executed');
          if (executed !== undefined && within(executed.at))
            return { key, incident_id: claim.incident_id, fixed_at: executed.at };
        }
        const value = encodeCbor({ incident_id: id, fixed_at: at });
        await batch([...new Set(keys)].map((key) => put('claims', key, value)));
        return undefined;
      });
    },
    async putIncident(record, extraDedupKeys = []) {
      await writeIncident(
        record,
        extraDedupKeys.map((key) => put('dedup', key, utf8.encode(record.id))),
      );
    },
    async listIncidents({ state, limit, cursor }) {
      const after = cursor === undefined ? undefined : decodeListCursor(cursor);
      const out: IncidentSummary[] = [];
      let last: string | undefined;
      let more = false;
      // A state's listing reads that state's index only. An entry whose record has moved on since
      // (its write failed after the entry was planned) is skipped: the record decides.
      const keys =
        state === undefined
          ? scan('byTime', after)
          : scan('byState', stateKey(state, after ?? ''), `${state}}`);
      for await (const [indexKey, idBytes] of keys) {
        const record = decodeSummary(await get('incidents', fromUtf8.decode(idBytes)));
        if (record === undefined || (state !== undefined && record.state !== state)) continue;
        if (out.length === limit) {
          more = true;
          break;
        }
        out.push(record);
        // Cursors are listing keys (creation time, id) whichever index was read.
        last = state === undefined ? indexKey : indexKey.slice(state.length + 1);
      }
      return { incidents: out, next_cursor: more && last !== undefined ? encodeListCursor(last) : null };
    },
    async activeIncidentIds() {
      // The index's keys alone: each entry is written in the batch that writes its record, and
      // records are never deleted, so no record is read here (reading each, if only to see it is
      // there, had the start page in most of the database).
      const out: string[] = [];
      const prefix = `${SPACES.active}!`;
      for await (const key of db.keys({ gt: prefix, lt: `${SPACES.active}"` }))
        out.push(key.slice(prefix.length));
      return out;
    },
    async pendingUnseals() {
      const out: { requestId: string; incidentId: string }[] = [];
      for await (const [requestId, id] of scan('unsealPending'))
        out.push({ requestId, incidentId: fromUtf8.decode(id) });
      return out;
    },
    async putPendingResolve(id, resolve) {
      await batch([put('resolvePending', id, encodeCbor(resolve))]);
    },
    async deletePendingResolve(id) {
      await batch([del('resolvePending', id)]);
    },
    async pendingResolves() {
      const out: { id: string; resolve: PendingResolve }[] = [];
      for await (const [id, v] of scan('resolvePending'))
        out.push({ id, resolve: decodeCbor(v) as PendingResolve });
      return out;
    },
    async putEvidence(id, bundle, incident) {
      const ops: Op[] = [put('evidence', id, utf8.encode(JSON.stringify(bundle)))];
      const index = bundle.transparencyLog?.logIndex;
      if (index !== undefined) ops.push(put('evidenceIndex', pad(index), utf8.encode(id)));
      await writeIncident(incident, ops);
    },
    async getEvidence(id) {
      const v = await get('evidence', id);
      return v === undefined ? undefined : (JSON.parse(fromUtf8.decode(v)) as EvidenceBundle);
    },
    async evidenceIdAt(logIndex) {
      const v = await get('evidenceIndex', pad(logIndex));
      return v === undefined ? undefined : fromUtf8.decode(v);
    },
    async deploymentHistory(workload) {
      const v = await get('history', workload);
      return v === undefined ? [] : (decodeCbor(v) as DeploymentRecord[]);
    },
    recordDeployment(record) {
      return store.updateDeploymentHistory(record.workload, (list) => [
        ...list.filter((r) => r.revision !== record.revision),
        record,
      ]);
    },
    updateDeploymentHistory(workload, change) {
      const run = async () => {
        const next = [...change(await store.deploymentHistory(workload))].sort(
          (a, b) => a.revision - b.revision,
        );
        await batch([put('history', workload, encodeCbor(next.slice(-50)))]);
      };
      const done = historyChain.then(run, run);
      historyChain = done.catch(() => undefined);
      return done;
    },
    log: {
      get: (key) => get('log', key),
      async getMany(keys) {
        const vs = await db.getMany(keys.map((key) => k('log', key)));
        return vs.map(bytes);
      },
      async batch(ops: LogStoreOp[]) {
        await write(
          ops.map((op) => (op.type === 'put' ? put('log', op.key, op.value) : del('log', op.key))),
          true,
        );
      },
    },
    getMeta: (key) => get('meta', key),
    async putMeta(key, value) {
      await batch([put('meta', key, value)]);
    },
    claimMeta(key, value) {
      return serial(async () => {
        if ((await get('meta', key)) !== undefined) return false;
        await batch([put('meta', key, value)]);
        return true;
      });
    },
    writeHealth: () => health,
    async close() {
      await chain.catch(() => undefined);
      await Promise.all(inFlight.values());
      await db.close();
    },
  };
  return store;
}
