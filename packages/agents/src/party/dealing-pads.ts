/**
 * Dealing pads on the party node (mpc-core `vectorPadSteps`, docs/aggregation.md "Dealing pads"):
 * the random half of a vector dealing, prepared while the party is idle, so that a dealing of a
 * vector input computes only the commitment to its values and the shares.
 *
 * For every vector input this party's role provides in a circuit it trusts, the pool keeps as
 * many pads of that length as one circuit needs at once. It prepares them in small steps (a few
 * milliseconds each, with other requests served in between), and only while no aggregation round
 * is under way here and none of its calls came within `idleMs`: a pad taken by a round is replaced
 * after that round, not during it. A
 * dealing that finds no pad ready computes its random part itself, as without a pool.
 *
 * Pads are secrets held in memory only: never logged, never stored, each handed out once.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { AnyCiphersuite, Circuit, Rng, VectorDealingPad } from '@aaps/mpc-core';
import { vectorPadSteps } from '@aaps/mpc-core';
import type { Logger } from '../logger.js';
import { defaultRng } from './routes/aggregation.js';

/** Scalars all pads of a party may hold together (about 4 MiB as bigints). */
export const PAD_SCALAR_BUDGET = 65_536;
/** Quiet time after an aggregation call before preparation (re)starts. */
export const PAD_IDLE_MS = 1000;

export interface PadStatus {
  length: number;
  ready: number;
  target: number;
}

/**
 * Pads wanted per vector length: for each circuit, how many vector inputs of each length `role`
 * provides; the most any one circuit needs. Lengths that would pass the budget (shortest kept
 * first) are left out.
 */
export function padTargets(
  circuits: Iterable<Circuit>,
  role: string,
  threshold: number,
  budget = PAD_SCALAR_BUDGET,
): { targets: Map<number, number>; dropped: number[] } {
  const wanted = new Map<number, number>();
  for (const circuit of circuits) {
    const counts = new Map<number, number>();
    for (const input of circuit.inputs) {
      if (input.role !== role || input.length < 2) continue;
      counts.set(input.length, (counts.get(input.length) ?? 0) + 1);
    }
    for (const [length, n] of counts) wanted.set(length, Math.max(wanted.get(length) ?? 0, n));
  }
  const targets = new Map<number, number>();
  const dropped: number[] = [];
  let used = 0;
  for (const length of [...wanted.keys()].sort((a, b) => a - b)) {
    const cost = wanted.get(length)! * length * (threshold - 1);
    if (used + cost > budget) {
      dropped.push(length);
      continue;
    }
    used += cost;
    targets.set(length, wanted.get(length)!);
  }
  return { targets, dropped };
}

export class DealingPadPool {
  readonly #suite: AnyCiphersuite;
  readonly #threshold: number;
  readonly #targets: ReadonlyMap<number, number>;
  readonly #rng: Rng | undefined;
  readonly #logger: Logger;
  readonly #idleMs: number;
  readonly #busy: () => boolean;
  readonly #ready = new Map<number, VectorDealingPad[]>();
  /** When the last aggregation call came (or the pool was made: it starts once the party settles). */
  #lastCall = Date.now();
  #running: Promise<void> | undefined;
  readonly #stopping = new AbortController();

  constructor(opts: {
    suite: AnyCiphersuite;
    threshold: number;
    targets: ReadonlyMap<number, number>;
    logger: Logger;
    rng?: Rng;
    idleMs?: number;
    /** Whether an aggregation round is under way at this party (preparation waits for its end). */
    busy?: () => boolean;
  }) {
    this.#suite = opts.suite;
    this.#threshold = opts.threshold;
    this.#targets = opts.targets;
    this.#rng = opts.rng;
    this.#logger = opts.logger;
    this.#idleMs = opts.idleMs ?? PAD_IDLE_MS;
    this.#busy = opts.busy ?? (() => false);
    for (const length of this.#targets.keys()) this.#ready.set(length, []);
  }

  /** A ready pad for a dealing of this length, if there is one; its replacement is scheduled. */
  take(length: number): VectorDealingPad | undefined {
    const pad = this.#ready.get(length)?.shift();
    this.#fill();
    return pad;
  }

  /** An aggregation call came: preparation pauses until the party has been quiet for `idleMs`. */
  touch(): void {
    this.#lastCall = Date.now();
  }

  status(): PadStatus[] {
    return [...this.#targets].map(([length, target]) => ({
      length,
      ready: this.#ready.get(length)?.length ?? 0,
      target,
    }));
  }

  /** Start preparing (at party start). */
  start(): void {
    this.#fill();
  }

  /** Stop preparing (a wait ends at once, a step in progress first ends); pads ready are dropped. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#running;
    this.#ready.clear();
  }

  #missing(): number | undefined {
    for (const [length, target] of this.#targets) {
      if ((this.#ready.get(length)?.length ?? 0) < target) return length;
    }
    return undefined;
  }

  #fill(): void {
    if (this.#running || this.#stopping.signal.aborted || this.#missing() === undefined) return;
    this.#running = this.#prepare().finally(() => {
      this.#running = undefined;
    });
  }

  async #prepare(): Promise<void> {
    try {
      for (
        let length = this.#missing();
        length !== undefined && !this.#stopping.signal.aborted;
        length = this.#missing()
      ) {
        const started = performance.now();
        const steps = vectorPadSteps(
          this.#suite,
          { length, threshold: this.#threshold },
          this.#rng ?? defaultRng,
        );
        let pad: VectorDealingPad | undefined;
        while (pad === undefined) {
          await this.#quiet();
          if (this.#stopping.signal.aborted) return;
          const step = steps.next();
          if (step.done) pad = step.value;
        }
        this.#ready.get(length)!.push(pad);
        this.#logger.log('debug', 'pads.ready', { length, ms: Math.round(performance.now() - started) });
      }
    } catch (e) {
      if (this.#stopping.signal.aborted) return;
      this.#logger.warn('pads.failed', { error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Yield the event loop; then wait while a round is under way or one of its calls came within `idleMs`. */
  async #quiet(): Promise<void> {
    await nextTurn();
    for (;;) {
      const wait = this.#busy() ? this.#idleMs : this.#lastCall + this.#idleMs - Date.now();
      if (wait <= 0 || this.#stopping.signal.aborted) return;
      await sleep(wait, undefined, { ref: false, signal: this.#stopping.signal });
    }
  }
}
