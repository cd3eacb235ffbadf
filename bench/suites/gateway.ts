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

  const headers = () => ({ authorization: `Bearer ${up!.token}` });
  // Follow each incident on its server-sent events stream (as `aaps submit` does) rather than
  // polling: the load generator should cost the gateway as little as a real client would.
  const waitEnded = async (id: string) => {
    const res = await fetch(`${up!.url}/v1/incidents/${id}/events`, {
      headers: headers(),
      signal: AbortSignal.timeout(60_000),
    });
    if (!res.ok || !res.body) throw new Error(`events for ${id} answered ${res.status}`);
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of res.body) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        if (text.includes('event: end')) break;
      }
    } catch (e) {
      lost.push(id);
      throw new Error(`incident ${id} did not end in 60 s (${(e as Error).name})`);
    }
    if (!text.includes('event: end')) {
      lost.push(id);
      throw new Error(`incident ${id}: its event stream closed before the end`);
    }
    const body = (await (await fetch(`${up!.url}/v1/incidents/${id}`, { headers: headers() })).json()) as {
      evidence_id?: string | null;
      timeline: TimelineEntry[];
    };
    if (!body.evidence_id) {
      lost.push(id);
      throw new Error(`incident ${id} ended without evidence`);
    }
    const t = (s: string) => body.timeline.find((e) => e.state === s)?.at;
    const a = t('awaiting_approval');
    const b = t('approved');
    if (a && b) approvalMs.push(Date.parse(b) - Date.parse(a));
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
            headers: { ...headers(), 'content-type': 'application/json' },
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
