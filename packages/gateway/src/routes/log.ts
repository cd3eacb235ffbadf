/**
 * The transparency log: latest checkpoint, inclusion and consistency proofs, and the entries
 * themselves, so that an auditor can walk the log and see what each checkpoint added (a leaf
 * names its bundle's DSSE envelope by hash; the bundle is at `/v1/evidence/{evidence_id}`).
 */
import { evidenceIdOfLeaf, hashLeaf } from '@aaps/evidence';
import { AapsError, bytesToHex, ValidationError } from '@aaps/mpc-core';
import { requireScope } from '../middleware/auth.js';
import type { RouteDoc } from '../openapi.js';
import { parse } from '../schema/check.js';
import type { GatewayApp, RouteDeps } from './deps.js';
import {
  ConsistencyProofSchema,
  ConsistencyQuerySchema,
  EntriesQuerySchema,
  InclusionProofSchema,
  InclusionQuerySchema,
  LOG_INDEX,
  LogEntriesSchema,
  LogEntrySchema,
} from './schemas.js';

/** The most entries one `GET /v1/log/entries` answers with. */
export const MAX_ENTRIES_PER_PAGE = 1000;

export const logRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/log/checkpoint',
    summary: 'The latest checkpoint: C2SP tlog-checkpoint text as a signed note (k-of-n FROST signature).',
    auth: 'read',
    responses: {
      '200': { description: 'the signed note', contentType: 'text/plain' },
      '404': { description: 'NOT_FOUND: the log is empty' },
    },
  },
  {
    method: 'get',
    path: '/v1/log/inclusion/{index}',
    summary:
      'RFC 9162 inclusion proof of leaf `index` in the tree of `tree_size` (default: the latest checkpoint).',
    auth: 'read',
    query: InclusionQuerySchema,
    responses: {
      '200': { description: 'the proof', schema: InclusionProofSchema },
      '400': {
        description:
          'INVALID_ARGUMENT: index is not a leaf index, or the leaf is not in a tree of tree_size (or the log is empty)',
      },
    },
  },
  {
    method: 'get',
    path: '/v1/log/entries',
    summary: `Up to \`count\` (default 100, at most ${MAX_ENTRIES_PER_PAGE}) log entries from \`start\`, for walking the log.`,
    auth: 'read',
    query: EntriesQuerySchema,
    responses: {
      '200': {
        description: 'the entries (fewer at the end of the log; none from its size)',
        schema: LogEntriesSchema,
      },
      '400': { description: 'INVALID_ARGUMENT: start past the log size, or count not 1..1000' },
    },
  },
  {
    method: 'get',
    path: '/v1/log/entries/{index}',
    summary:
      'The log entry at `index`: its leaf bytes (base64), leaf hash and the id of the evidence bundle it commits to.',
    auth: 'read',
    responses: {
      '200': { description: 'the entry', schema: LogEntrySchema },
      '400': { description: 'INVALID_ARGUMENT: index is not a leaf index' },
      '404': { description: 'NOT_FOUND: no entry at index (index >= the log size)' },
    },
  },
  {
    method: 'get',
    path: '/v1/log/consistency',
    summary:
      'RFC 9162 consistency proof between tree sizes `first` and `second` (default: the latest checkpoint).',
    auth: 'read',
    query: ConsistencyQuerySchema,
    responses: {
      '200': { description: 'the proof', schema: ConsistencyProofSchema },
      '400': { description: 'INVALID_ARGUMENT: not 1 <= first <= second <= the log size' },
    },
  },
];

/**
 * A tree size or leaf index as the path or query gives it (a {@link LOG_INDEX}), as a number: one
 * above `Number.MAX_SAFE_INTEGER` is past the size of any log, so it is `Infinity` (out of every
 * range the routes check) rather than rounded to a nearby index.
 */
export function logIndexValue(text: string): number {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : Number.POSITIVE_INFINITY;
}

export function registerLogRoutes(app: GatewayApp, d: RouteDeps): void {
  const latestSize = async () => (await d.evidence.latestCheckpoint())?.size ?? 0;
  const checkRange = (ok: boolean, field: string, what: string) => {
    if (!ok) throw new ValidationError('INVALID_ARGUMENT', `${field}: ${what}`, [field]);
  };
  app.get('/v1/log/checkpoint', requireScope(d.authenticate, 'read'), async (c) => {
    const cp = await d.evidence.latestCheckpoint();
    if (cp === undefined) throw new AapsError('NOT_FOUND', 'no checkpoint yet: the log is empty');
    return c.body(cp.note, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
  });
  app.get('/v1/log/inclusion/:index', requireScope(d.authenticate, 'read'), async (c) => {
    const index = c.req.param('index');
    checkRange(LOG_INDEX.test(index), 'index', 'expected a leaf index');
    const q = parse(InclusionQuerySchema, c.req.query(), 'invalid query');
    const size = q.tree_size === undefined ? await latestSize() : logIndexValue(q.tree_size);
    const i = logIndexValue(index);
    checkRange(
      i < size && size <= (await d.evidence.logSize()),
      'tree_size',
      'the leaf is not in a tree of that size',
    );
    const hashes = await d.evidence.inclusionProof(i, size);
    return c.json({ leaf_index: i, tree_size: size, hashes: hashes.map(bytesToHex) });
  });
  /**
   * The entry at `i`, as both entry routes answer it; `NOT_FOUND` past the log's end, naming the
   * index as asked (`asked`, the path's digits: `i` is `Infinity` for one past any log).
   */
  const entryAt = async (i: number, asked = String(i)) => {
    const leaf = Number.isSafeInteger(i) ? await d.evidence.logLeaf(i) : undefined;
    if (leaf === undefined)
      throw new AapsError(
        'NOT_FOUND',
        `no log entry at ${asked}: the log holds ${await d.evidence.logSize()}`,
      );
    return {
      leaf_index: i,
      body: Buffer.from(leaf).toString('base64'),
      leaf_hash: bytesToHex(hashLeaf(leaf)),
      // A bundle's evidence id is the SHA-256 of its leaf; the bundle is stored before its append.
      evidence_id: evidenceIdOfLeaf(leaf),
    };
  };
  app.get('/v1/log/entries', requireScope(d.authenticate, 'read'), async (c) => {
    const q = parse(EntriesQuerySchema, c.req.query(), 'invalid query');
    const start = logIndexValue(q.start);
    const count = q.count === undefined ? 100 : Number(q.count);
    checkRange(count <= MAX_ENTRIES_PER_PAGE, 'count', `expected 1 to ${MAX_ENTRIES_PER_PAGE}`);
    const size = await d.evidence.logSize();
    checkRange(start <= size, 'start', `past the end of the log (size ${size})`);
    const entries = [];
    for (let i = start; i < Math.min(size, start + count); i++) entries.push(await entryAt(i));
    return c.json({ start, log_size: size, entries });
  });
  app.get('/v1/log/entries/:index', requireScope(d.authenticate, 'read'), async (c) => {
    const index = c.req.param('index');
    checkRange(LOG_INDEX.test(index), 'index', 'expected a leaf index');
    return c.json(await entryAt(logIndexValue(index), index));
  });
  app.get('/v1/log/consistency', requireScope(d.authenticate, 'read'), async (c) => {
    const q = parse(ConsistencyQuerySchema, c.req.query(), 'invalid query');
    const first = logIndexValue(q.first);
    const second = q.second === undefined ? await latestSize() : logIndexValue(q.second);
    checkRange(
      first >= 1 && first <= second && second <= (await d.evidence.logSize()),
      'first',
      'expected 1 <= first <= second <= log size',
    );
    const hashes = await d.evidence.consistencyProof(first, second);
    return c.json({ first, second, hashes: hashes.map(bytesToHex) });
  });
}
