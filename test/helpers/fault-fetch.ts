/**
 * A `fetch` for the gateway-side `PartyClient` that kills a party process at a chosen request:
 * right before the n-th request of a kind reaches it (the party never sees it), or right after
 * its answer came back (the party did the work, then dies).
 */
import { RPC_PATHS, type RpcKind } from '@aaps/agents';

export interface KillPoint {
  victim: string;
  victimUrl: string;
  kind: RpcKind;
  /** 1-based: the n-th matching request. */
  nth: number;
  when: 'before' | 'after';
}

export interface FaultFetch {
  fetch: typeof fetch;
  /** Whether the kill happened. */
  fired(): boolean;
  /**
   * Settles once no request through this fetch is in flight. A protocol run can end (a signing
   * session returns, a refresh rejects at its first failure) while requests it started are still
   * out, such as a commitment pool's background top-up; the kill they trigger lands after that, so
   * a test waits for this before it checks which parties are down.
   */
  idle(): Promise<void>;
}

export function killingFetch(point: KillPoint, kill: (id: string) => Promise<void>): FaultFetch {
  let seen = 0;
  let fired = false;
  let inFlight = 0;
  let waiting: (() => void)[] = [];
  const path = RPC_PATHS[point.kind];
  const tracked: typeof fetch = async (input, init) => {
    inFlight++;
    try {
      return await wrapped(input, init);
    } finally {
      inFlight--;
      if (inFlight === 0) {
        const done = waiting;
        waiting = [];
        for (const w of done) w();
      }
    }
  };
  const wrapped: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const hit = !fired && url.origin === new URL(point.victimUrl).origin && url.pathname === path;
    if (hit) seen++;
    if (hit && seen === point.nth && point.when === 'before') {
      fired = true;
      await kill(point.victim);
      return fetch(input, init);
    }
    const res = await fetch(input, init);
    if (hit && seen === point.nth && point.when === 'after') {
      fired = true;
      const body = await res.text();
      await kill(point.victim);
      return new Response(body, { status: res.status, headers: res.headers });
    }
    return res;
  };
  return {
    fetch: tracked,
    fired: () => fired,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve))),
  };
}
