/**
 * The load generator's incidents fix themselves. `bench/load` (the gateway and memory benches) and
 * the fault suites post `incidentEnvelope('config' | 'image')` and follow each to its `end`; an
 * envelope the workflow sends to a person instead (as an image pull failure that does not say why
 * now is) never ends, and the bench would measure waiting rather than remediation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentEnvelope } from '../bench/load/cluster.js';
import {
  incident,
  makeGateway,
  request,
  type TestGateway,
  TOKENS,
} from '../packages/gateway/src/test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
});
afterAll(() => gw.cleanup());

/** The incident's state once it stops moving: ended, or waiting for a person. */
async function settled(id: string): Promise<Record<string, unknown>> {
  for (;;) {
    const found = await incident(gw, id);
    if (
      ['resolved', 'rejected', 'failed', 'rolled_back', 'awaiting_human'].includes(found['state'] as string)
    )
      return found;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('bench/load incident envelopes', () => {
  for (const kind of ['config', 'image'] as const) {
    it(`a ${kind} incident runs to resolved, with no person asked`, async () => {
      const res = await request(gw, 'POST', '/v1/incidents', {
        token: TOKENS.submit,
        body: incidentEnvelope(kind, 'envelopes'),
      });
      expect(res.status).toBe(202);
      const { incident_id } = (await res.json()) as { incident_id: string };
      const found = await settled(incident_id);
      expect(found['state'], JSON.stringify(found['timeline'] ?? found).slice(0, 600)).toBe('resolved');
    });
  }
});
