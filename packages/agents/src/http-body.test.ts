import { describe, expect, it } from 'vitest';
import { BodyBudget, type BodyRead, bodyReadError, readBodyCapped } from './http-body.js';
import { errorStatus } from './http-errors.js';

/** A chunked request body of `chunks` chunks of `size` bytes each, counting the chunks pulled. */
function streamed(chunks: number, size: number, headers: Record<string, string> = {}) {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === chunks) {
        controller.close();
        return;
      }
      controller.enqueue(new Uint8Array(size).fill(pulled % 256));
      pulled++;
    },
  });
  const request = new Request('http://party.test/v1/sign/round2', {
    method: 'POST',
    headers,
    body,
    duplex: 'half',
  } as RequestInit);
  return { request, pulled: () => pulled };
}

/** The body read, or why not. */
const bodyOf = async (read: Promise<BodyRead>): Promise<Uint8Array | string> => {
  const r = await read;
  return r.ok ? r.body : r.reason;
};

describe('readBodyCapped', () => {
  it('returns a body within the cap byte for byte, from one chunk or many', async () => {
    const one = await bodyOf(
      readBodyCapped(new Request('http://x.test', { method: 'POST', body: 'hello' }), 5),
    );
    expect(new TextDecoder().decode(one as Uint8Array)).toBe('hello');
    const { request } = streamed(4, 1000);
    const many = (await bodyOf(readBodyCapped(request, 4000))) as Uint8Array;
    expect(many.length).toBe(4000);
    expect([many[0], many[1000], many[2999], many[3999]]).toEqual([0, 1, 2, 3]);
    expect(await bodyOf(readBodyCapped(new Request('http://x.test'), 10))).toEqual(new Uint8Array(0));
  });

  it('refuses a declared length over the cap before reading a byte', async () => {
    const { request, pulled } = streamed(100, 1000, { 'content-length': '100000' });
    expect(await bodyOf(readBodyCapped(request, 50_000))).toBe('too_large');
    expect(pulled()).toBeLessThanOrEqual(1); // a stream may pre-pull one chunk; nothing is read
  });

  it('stops reading a chunked body as soon as it passes the cap', async () => {
    const { request, pulled } = streamed(10_000, 1024);
    expect(await bodyOf(readBodyCapped(request, 64 * 1024))).toBe('too_large');
    // 64 chunks fill the cap, the 65th passes it; the stream is cancelled there, not drained.
    expect(pulled()).toBeLessThan(70);
  });
});

describe('readBodyCapped with tiny chunks', () => {
  it('reads 200,000 one-byte chunks into one buffer (no per-chunk arrays, no argument spread)', async () => {
    const { request } = streamed(200_000, 1);
    const body = (await bodyOf(readBodyCapped(request, 1024 * 1024))) as Uint8Array;
    expect(body.length).toBe(200_000);
    expect(body[199_999]).toBe(199_999 % 256);
    const over = streamed(200_000, 1);
    expect(await bodyOf(readBodyCapped(over.request, 150_000))).toBe('too_large');
    expect(over.pulled()).toBeLessThan(150_010);
  });
});

describe('readBodyCapped with a shared budget', () => {
  it('holds bodies against the budget until released, refuses as busy past it, and gives back on refusal', async () => {
    const budget = new BodyBudget(300_000);
    const a = await readBodyCapped(streamed(100, 1000).request, 1024 * 1024, budget);
    expect(a.ok).toBe(true);
    const heldByA = budget.bytes - budget.free;
    expect(heldByA).toBeGreaterThanOrEqual(100_000);
    expect(heldByA).toBeLessThanOrEqual(200_000); // one buffer, grown by doubling
    // A second large body does not fit beside the first: busy, and what it took is given back.
    const b = streamed(1000, 1000);
    expect(await bodyOf(readBodyCapped(b.request, 1024 * 1024, budget))).toBe('busy');
    expect(b.pulled()).toBeLessThan(300);
    expect(budget.bytes - budget.free).toBe(heldByA);
    // A body over its cap gives back what it took too.
    expect(await bodyOf(readBodyCapped(streamed(100, 1000).request, 50_000, budget))).toBe('too_large');
    expect(budget.bytes - budget.free).toBe(heldByA);
    // Once the first request is done, the same large body is read.
    if (a.ok) a.release();
    expect(budget.free).toBe(budget.bytes);
    const c = await readBodyCapped(streamed(1000, 120).request, 1024 * 1024, budget);
    expect(c.ok && c.body.length).toBe(120_000);
    if (c.ok) c.release();
    expect(budget.free).toBe(budget.bytes);
  });

  it('holds budget only for bytes that arrived: a declared body that stalls holds none, one byte about one', async () => {
    const budget = new BodyBudget(1 << 20);
    /** A body declared as 1 MiB whose sender sends `first` bytes (none if 0) and then nothing. */
    const stalled = (first: number) => {
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent || first === 0) return new Promise(() => {});
          sent = true;
          controller.enqueue(new Uint8Array(first));
        },
      });
      return new Request('http://party.test/v1/sign/round2', {
        method: 'POST',
        headers: { 'content-length': String(1 << 20) },
        body,
        duplex: 'half',
      } as RequestInit);
    };
    const pace = { graceMs: 200, minBytesPerSecond: 10_000 };
    const reads = [
      readBodyCapped(stalled(0), 1 << 20, budget, pace),
      readBodyCapped(stalled(1), 1 << 20, budget, pace),
      readBodyCapped(stalled(1000), 1 << 20, budget, pace),
    ];
    await new Promise((r) => setTimeout(r, 50));
    // 1 + 1,000 bytes arrived: that is what is held (not 64 KiB each, nor the declared 1 MiB).
    expect(budget.bytes - budget.free).toBe(1001);
    // Many such senders do not crowd out a real body.
    const real = await readBodyCapped(streamed(100, 1000).request, 1 << 20, budget);
    expect(real.ok && real.body.length).toBe(100_000);
    if (real.ok) real.release();
    expect((await Promise.all(reads.map(bodyOf))).every((r) => r === 'slow')).toBe(true);
    expect(budget.free).toBe(budget.bytes);
  });

  it('reports a sender that breaks off mid-body as aborted, and gives the budget back', async () => {
    const budget = new BodyBudget(1024 * 1024);
    let sent = 0;
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === 3) controller.error(new Error('connection reset'));
        else controller.enqueue(new Uint8Array(50_000));
      },
    });
    const request = new Request('http://x.test', {
      method: 'POST',
      body: broken,
      duplex: 'half',
    } as RequestInit);
    expect(await bodyOf(readBodyCapped(request, 1024 * 1024, budget))).toBe('aborted');
    expect(budget.free).toBe(budget.bytes);
  });
});

describe('readBodyCapped keeps a pace', () => {
  /** A body whose chunks of `size` bytes arrive `gapMs` apart, `chunks` of them. */
  function paced(chunks: number, size: number, gapMs: number) {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === chunks) {
          controller.close();
          return;
        }
        await new Promise((r) => setTimeout(r, gapMs));
        controller.enqueue(new Uint8Array(size));
        sent++;
      },
    });
    return new Request('http://party.test/v1/sign/round2', {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit);
  }
  const pace = { graceMs: 100, minBytesPerSecond: 10_000 };

  it('refuses a sender that goes quiet past the grace period, and gives its bytes back', async () => {
    const budget = new BodyBudget(1 << 20);
    const quiet = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
    const request = new Request('http://x.test', {
      method: 'POST',
      body: quiet,
      duplex: 'half',
    } as RequestInit);
    const started = Date.now();
    expect(await bodyOf(readBodyCapped(request, 1 << 20, budget, pace))).toBe('slow');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(budget.free).toBe(1 << 20);
  });

  it('refuses a trickle below the minimum rate after the grace period', async () => {
    // 100 bytes every 20 ms is 5,000 bytes/s, half the minimum: behind after about 200 ms.
    expect(await bodyOf(readBodyCapped(paced(1000, 100, 20), 1 << 20, undefined, pace))).toBe('slow');
  });

  it('reads a body that keeps the pace, however long it takes in all', async () => {
    // 2,000 bytes every 10 ms is 200,000 bytes/s, 20x the minimum: 25 chunks, past the grace period.
    const body = await bodyOf(readBodyCapped(paced(25, 2000, 10), 1 << 20, undefined, pace));
    expect((body as Uint8Array).length).toBe(50_000);
  });
});

describe('bodyReadError', () => {
  it("maps each failure to its code and status: a cut-off body is the sender's 400, not a 500", () => {
    const answers = (['too_large', 'busy', 'slow', 'aborted'] as const).map((r) => {
      const e = bodyReadError(r, 100);
      return [r, e.code, errorStatus(e)];
    });
    expect(answers).toEqual([
      ['too_large', 'PAYLOAD_TOO_LARGE', 413],
      ['busy', 'UNAVAILABLE', 503],
      ['slow', 'REQUEST_TIMEOUT', 408],
      ['aborted', 'BODY_ABORTED', 400],
    ]);
  });
});
