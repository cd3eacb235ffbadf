/**
 * The whole service, end to end: `aaps up` (gateway + five party processes on loopback, 3-of-5),
 * incidents posted in batches and followed until their evidence is sealed. Also the approval
 * latency taken from each incident's own timeline (awaiting_approval -> approved).
 */

import type { SuiteContext } from '../harness.js';
import { followToEnd, freshPort, postIncidents, startUp, type UpCluster } from '../load/cluster.js';

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
  const waitEnded = async (id: string) => {
    try {
      await followToEnd(up!, id);
    } catch (e) {
      lost.push(id);
      throw e;
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
      const ids = await postIncidents(up!, BATCH);
      await Promise.all(ids.map(waitEnded));
    },
    {
      time: 0,
      iterations: 8,
      unitsPerOp: BATCH,
      setup: async () => {
        up = await startUp({ port: await freshPort() });
      },
      teardown: async () => {
        await up?.stop();
        if (lost.length) throw new Error(`${lost.length} incidents lost`);
      },
    },
  );
  measured('gateway.approval.latency', 'http', () => approvalMs);
}
