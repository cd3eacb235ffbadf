/**
 * Coalesces concurrent calls to one party into `batch` requests. At most `maxInflight` requests
 * go to a party at a time; calls made while they are busy wait and leave together in the next
 * request (up to {@link MAX_BATCH_CALLS}), under one signed envelope instead of one each. A call
 * that finds the party idle goes out at once, alone, exactly as it would without coalescing, so
 * a quiet system pays no latency for it; under load the per-request costs (envelope signature
 * and verification on both sides, replay record, HTTP) are shared by the whole batch.
 */
import { AapsError } from '@aaps/mpc-core';
import {
  type BatchableKind,
  type BatchCall,
  type BatchResult,
  MAX_BATCH_CALLS,
  type RpcContext,
} from './rpc.js';

/** Sends one request: a single call, or a `batch` whose body is `{calls}`. */
export type SendCall = (
  partyId: string,
  kind: BatchableKind | 'batch',
  sessionId: string,
  body: Record<string, unknown>,
  ctx: RpcContext,
  signal?: AbortSignal,
) => Promise<Record<string, unknown>>;

/** Turns one failed answer of a batch into the error the single call would have thrown. */
export type ErrorFrom = (
  partyId: string,
  kind: BatchableKind,
  status: number,
  json: unknown,
  sessionId: string,
) => AapsError;

interface Pending {
  call: BatchCall;
  signal: AbortSignal | undefined;
  settled: boolean;
  resolve(body: Record<string, unknown>): void;
  reject(e: unknown): void;
}

interface Lane {
  inflight: number;
  queue: Pending[];
}

export class CallCoalescer {
  readonly #send: SendCall;
  readonly #errorFrom: ErrorFrom;
  readonly #maxInflight: number;
  readonly #lanes = new Map<string, Lane>();
  #seq = 0;

  constructor(send: SendCall, errorFrom: ErrorFrom, maxInflight = 2) {
    if (!Number.isSafeInteger(maxInflight) || maxInflight < 1) {
      throw new AapsError('INVALID_ARGUMENT', 'coalesce.maxInflight: expected an integer >= 1');
    }
    this.#send = send;
    this.#errorFrom = errorFrom;
    this.#maxInflight = maxInflight;
  }

  call(partyId: string, call: BatchCall, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const p: Pending = { call, signal, settled: false, resolve, reject };
      const settle = (f: () => void) => {
        if (p.settled) return;
        p.settled = true;
        signal?.removeEventListener('abort', onAbort);
        f();
      };
      p.resolve = (b) => settle(() => resolve(b));
      p.reject = (e) => settle(() => reject(e));
      const onAbort = () => {
        const lane = this.#lanes.get(partyId);
        if (lane) lane.queue = lane.queue.filter((q) => q !== p);
        p.reject(
          new AapsError('UNAVAILABLE', `${partyId}: call cancelled (${call.kind})`, {
            cause: signal?.reason,
            details: { party: partyId, kind: call.kind },
          }),
        );
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const lane = this.#lane(partyId);
      lane.queue.push(p);
      this.#pump(partyId, lane);
    });
  }

  #lane(partyId: string): Lane {
    let lane = this.#lanes.get(partyId);
    if (!lane) {
      lane = { inflight: 0, queue: [] };
      this.#lanes.set(partyId, lane);
    }
    return lane;
  }

  #pump(partyId: string, lane: Lane): void {
    while (lane.inflight < this.#maxInflight && lane.queue.length > 0) {
      const items = lane.queue.splice(0, MAX_BATCH_CALLS);
      lane.inflight++;
      this.#dispatch(partyId, items).finally(() => {
        lane.inflight--;
        if (lane.inflight === 0 && lane.queue.length === 0) this.#lanes.delete(partyId);
        else this.#pump(partyId, lane);
      });
    }
  }

  async #dispatch(partyId: string, items: Pending[]): Promise<void> {
    if (items.length === 1) {
      const p = items[0]!;
      const { kind, session_id, body, ctx } = p.call;
      await this.#send(partyId, kind, session_id, body, ctx, p.signal).then(p.resolve, p.reject);
      return;
    }
    let results: unknown;
    try {
      const out = await this.#send(
        partyId,
        'batch',
        `batch-${(this.#seq++).toString(36)}`,
        { calls: items.map((p) => p.call) },
        items[0]!.call.ctx,
      );
      results = out['results'];
    } catch (e) {
      for (const p of items) p.reject(e);
      return;
    }
    if (!Array.isArray(results) || results.length !== items.length) {
      const e = new AapsError(
        'INCONSISTENT_TRANSCRIPT',
        `${partyId} answered a batch of ${items.length} wrongly`,
        {
          details: { party: partyId },
        },
      );
      for (const p of items) p.reject(e);
      return;
    }
    items.forEach((p, i) => {
      const r = results[i] as BatchResult | undefined;
      if (r && 'body' in r && r.body && typeof r.body === 'object') p.resolve(r.body);
      else {
        const status = r && 'status' in r && typeof r.status === 'number' ? r.status : 502;
        p.reject(this.#errorFrom(partyId, p.call.kind, status, r, p.call.session_id));
      }
    });
  }
}
