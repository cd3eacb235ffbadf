/**
 * The whole service, end to end: `aaps up` (gateway + five party processes on loopback, 3-of-5),
 * incidents posted in batches and followed until their evidence is sealed. Also the approval
 * latency taken from each incident's own timeline (awaiting_approval -> approved).
 */

import type { SuiteContext } from '../harness.js';
import { incidentEnvelope, startUp, type UpCluster } from '../load/cluster.js';

const BATCH = 20;

interface TimelineEntry {
  at: string;
  state: string;
}

export async function register({ add, measured }: SuiteContext): Promise<void> {
  let up: UpCluster | undefined;
  const approvalMs: number[] = [];
  const lost: string[] = [];

  const waitEnded = async (id: string) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await fetch(`${up!.url}/v1/incidents/${id}`, {
        headers: { authorization: `Bearer ${up!.token}` },
      });
      const body = (await r.json()) as {
        state: string;
        evidence_id?: string | null;
        timeline: TimelineEntry[];
      };
      if (body.evidence_id) {
        const t = (s: string) => body.timeline.find((e) => e.state === s)?.at;
        const a = t('awaiting_approval');
        const b = t('approved');
        if (a && b) approvalMs.push(Date.parse(b) - Date.parse(a));
        return;
      }
      if (Date.now() > deadline) {
        lost.push(id);
        throw new Error(`incident ${id} did not end in 60 s (state ${body.state})`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  add(
    'gateway.incidents.e2e',
    'http',
    async () => {
      // Kinds the agents fix without a human (a quota incident without figures waits for one).
      const kinds = ['config', 'image'] as const;
      const ids = await Promise.all(
        Array.from({ length: BATCH }, async (_, i) => {
          const res = await fetch(`${up!.url}/v1/incidents`, {
            method: 'POST',
            headers: { authorization: `Bearer ${up!.token}`, 'content-type': 'application/json' },
            body: JSON.stringify(incidentEnvelope(kinds[i % 2])),
          });
          const body = (await res.json()) as { incident_id?: string };
          if (res.status !== 202 || !body.incident_id) throw new Error(`intake answered ${res.status}`);
          return body.incident_id;
        }),
      );
      await Promise.all(ids.map(waitEnded));
    },
    {
      time: 0,
      iterations: 8,
      unitsPerOp: BATCH,
      setup: async () => {
        up = await startUp({ port: 20000 + (process.pid % 1000) });
      },
      teardown: async () => {
        await up?.stop();
        if (lost.length) throw new Error(`${lost.length} incidents lost`);
      },
    },
  );
  measured('gateway.approval.latency', 'http', () => approvalMs);
}
