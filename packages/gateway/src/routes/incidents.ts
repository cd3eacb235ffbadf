/** `POST /v1/incidents`, `GET /v1/incidents`, `GET /v1/incidents/:id`, `GET /v1/incidents/:id/events`. */

import { ServerResponse } from 'node:http';
import { ROLE_OUTPUT_TYPES } from '@aaps/agents';
import { AapsError, ValidationError } from '@aaps/mpc-core';
import { streamSSE } from 'hono/streaming';
import { IncidentSignalEnvelopeSchema, intakeEnvelope } from '../intake/envelope.js';
import { requireScope } from '../middleware/auth.js';
import { jsonBody } from '../middleware/body-limit.js';
import type { RouteDoc } from '../openapi.js';
import { parse } from '../schema/check.js';
import { principalFor, verifyRosterEnvelope } from '../trust.js';
import { isTerminal } from '../workflow/machine.js';
import { incidentView } from '../workflow/record.js';
import type { GatewayApp, RouteDeps } from './deps.js';
import { IncidentAcceptedSchema, IncidentListSchema, IncidentSchema, ListQuerySchema } from './schemas.js';
import { STREAM_RETRY_AFTER_SECONDS } from './stream-slots.js';

export const incidentRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/incidents',
    summary:
      'Submit an IncidentSignal envelope (signed by a roster key, or unsigned and re-signed by the gateway).',
    auth: 'submit',
    body: IncidentSignalEnvelopeSchema,
    responses: {
      '202': { description: 'a new incident', schema: IncidentAcceptedSchema },
      '200': {
        description: 'the idempotency key names an existing incident; nothing new',
        schema: IncidentAcceptedSchema,
      },
    },
  },
  {
    method: 'get',
    path: '/v1/incidents',
    summary: 'List incidents in arrival order, optionally by state, with cursor paging.',
    auth: 'read',
    query: ListQuerySchema,
    responses: { '200': { description: 'one page', schema: IncidentListSchema } },
  },
  {
    method: 'get',
    path: '/v1/incidents/{id}',
    summary: 'One incident with its timeline, proposal, decision, execution, verification and evidence id.',
    auth: 'read',
    responses: {
      '200': { description: 'the incident', schema: IncidentSchema },
      '404': { description: 'unknown id' },
    },
  },
  {
    method: 'get',
    path: '/v1/incidents/{id}/events',
    summary:
      'Server-sent events: one `state` event per timeline entry (`id` is its index), then `end` once evidence is sealed. A reconnecting client sends `Last-Event-ID` and gets only the entries after it.',
    auth: 'read',
    responses: {
      '200': { description: 'an event stream', contentType: 'text/event-stream' },
      '404': { description: 'unknown id' },
      '429': { description: 'this token holds its most event streams (`Retry-After`)' },
      '503': { description: 'the gateway holds its most event streams (`Retry-After`)' },
    },
  },
];

export function registerIncidentRoutes(app: GatewayApp, d: RouteDeps): void {
  app.post('/v1/incidents', requireScope(d.authenticate, 'submit'), d.readBody, async (c) => {
    const body = jsonBody(c);
    const result = intakeEnvelope(body);
    const item = result.items[0];
    if (item === undefined || item.action !== 'open')
      throw new ValidationError('INVALID_ARGUMENT', 'no incident in the body', ['$']);
    const trust = await d.trust();
    if (item.envelope.meta.signature !== undefined) {
      const who = verifyRosterEnvelope(trust, item.envelope);
      // An approver's key signs a person's decisions only: the parties refuse evidence whose
      // transcript holds anything else it signed, so a signal it signed could never be sealed.
      if (trust.approvers.some((a) => a.id === who.id)) {
        throw new AapsError(
          'FORBIDDEN',
          `${who.id} is an approver, whose key signs human decisions (ApprovalDecision) only: send the signal unsigned (the gateway signs it as received) or signed by the monitoring party`,
        );
      }
      // A party signs only its role's outputs into a transcript (the parties refuse evidence in
      // which one signed another's): of the roles, monitoring's output is the incident signal.
      const party = (await d.coordinator.keys()).parties.find((p) => p.id === who.id);
      const emits: readonly string[] =
        (ROLE_OUTPUT_TYPES as Readonly<Record<string, readonly string[]>>)[party?.role ?? ''] ?? [];
      if (party !== undefined && !emits.includes(item.envelope.meta.message_type)) {
        throw new AapsError(
          'FORBIDDEN',
          `${who.id} is the ${party.role} party, which does not sign incident signals: send the signal unsigned (the gateway signs it as received) or signed by the monitoring party`,
        );
      }
    } else if (principalFor(trust, item.envelope.meta.source_agent) !== undefined) {
      throw new AapsError('UNAUTHENTICATED', 'an unsigned envelope may not claim a roster identity');
    }
    const [out] = (await d.intake.ingest(result)).incidents;
    if (out === undefined) throw new AapsError('INTERNAL', 'intake produced nothing');
    d.metrics.intake.inc({
      source: 'envelope',
      outcome: out.duplicate ? 'duplicate' : 'created',
    });
    return c.json(
      { incident_id: out.incident_id, trace_id: out.trace_id, state: out.state, duplicate: out.duplicate },
      out.duplicate ? 200 : 202,
    );
  });

  app.get('/v1/incidents', requireScope(d.authenticate, 'read'), async (c) => {
    const q = parse(ListQuerySchema, c.req.query(), 'invalid query');
    const page = await d.store.listIncidents({
      limit: q.limit === undefined ? 20 : Number(q.limit),
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
    return c.json({ incidents: page.incidents.map(incidentView), next_cursor: page.next_cursor });
  });

  app.get('/v1/incidents/:id', requireScope(d.authenticate, 'read'), async (c) => {
    const r = await d.store.getIncidentSummary(c.req.param('id'));
    if (r === undefined) throw new AapsError('NOT_FOUND', 'no such incident');
    return c.json(incidentView(r));
  });

  app.get('/v1/incidents/:id/events', requireScope(d.authenticate, 'read'), async (c) => {
    const id = c.req.param('id');
    const first = await d.store.getIncidentSummary(id);
    if (first === undefined) throw new AapsError('NOT_FOUND', 'no such incident');
    // Hono answers HEAD by running this handler and dropping the body unread: a stream started here
    // would wait on its first keep-alive for good, subscribed. A HEAD gets the headers alone.
    if (c.req.method === 'HEAD') {
      return c.body(null, 200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache',
      });
    }
    const resume = resumeAfter(c.req.header('last-event-id'), first.timeline.length);
    let release: () => void;
    try {
      release = d.streams.acquire(c.get('caller').name);
    } catch (e) {
      c.header('Retry-After', String(STREAM_RETRY_AFTER_SECONDS));
      throw e;
    }
    const response = serverResponse(c.env);
    // A client that left while the incident was read: its response has closed already (its
    // 'close' will not come again), so no stream is started and the slot goes back now.
    if (response?.destroyed) {
      release();
      return c.body(null, 204);
    }
    return streamSSE(c, async (stream) => {
      let wake: (() => void) | undefined;
      let dirty = false;
      let expired = false;
      const unsubscribe = d.events.subscribe(id, () => {
        dirty = true;
        wake?.();
      });
      stream.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      // The slot is held until the response is done (its last data taken by the client) or the
      // connection is gone; without a Node response (`app.request`), until the handler ends.
      if (response === undefined) stream.onAbort(release);
      else response.once('close', release);
      // Once the handler is done (or past the lifetime, when a write may be waiting on a client
      // that stopped reading: the server applies backpressure, so unsent data stays bounded by
      // the socket's buffers and one write), a response not done STREAM_END_GRACE_MS later is cut.
      let cut: ReturnType<typeof setTimeout> | undefined;
      const cutLater = () => {
        if (cut !== undefined) return;
        cut = setTimeout(() => {
          stream.abort();
          response?.destroy();
        }, STREAM_END_GRACE_MS);
        cut.unref();
        response?.once('close', () => clearTimeout(cut));
      };
      // At its most lifetime the stream ends; its client reconnects with Last-Event-ID.
      const lifetime = setTimeout(() => {
        expired = true;
        wake?.();
        cutLater();
      }, d.streamMaxMs);
      lifetime.unref();
      let sent = resume;
      try {
        while (!stream.aborted && !expired) {
          dirty = false;
          const r = await d.store.getIncidentSummary(id);
          if (r === undefined) break;
          // Every new event since the last wake in one write (one socket write, not one each).
          let out = '';
          for (; sent < r.timeline.length; sent++) {
            out += sseMessage(
              'state',
              JSON.stringify({ incident_id: id, ...r.timeline[sent] }),
              String(sent),
            );
          }
          const ended = isTerminal(r.state) && r.evidence_id !== undefined;
          if (ended) {
            const end = { incident_id: id, state: r.state, evidence_id: r.evidence_id };
            out += sseMessage('end', JSON.stringify(end));
          }
          if (out !== '') await stream.write(out);
          if (ended) break;
          if (dirty) continue;
          // gone (or past its lifetime) while this loop awaited: no last keep-alive wait
          if (stream.aborted || expired) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, d.keepAliveMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
          if (!stream.aborted && !expired) await stream.write(': keep-alive\n\n');
        }
      } finally {
        clearTimeout(lifetime);
        unsubscribe();
        if (response === undefined) release();
        else cutLater();
      }
    });
  });
}

/**
 * Where a reconnecting stream starts: after the entry `Last-Event-ID` names (the index of a
 * timeline entry this incident has). Anything else (absent, not a decimal index, past the last
 * entry) starts from the first entry, so a client misses nothing.
 */
export function resumeAfter(lastEventId: string | undefined, entries: number): number {
  if (lastEventId === undefined || !/^\d{1,9}$/.test(lastEventId.trim())) return 0;
  const index = Number(lastEventId.trim());
  return index < entries ? index + 1 : 0;
}

/** How long an event stream past its lifetime may take to send what it holds before it is cut. */
const STREAM_END_GRACE_MS = 10_000;

/** The Node response under a request `@hono/node-server` serves (none under `app.request`). */
function serverResponse(env: unknown): ServerResponse | undefined {
  const outgoing = (env as { outgoing?: unknown } | undefined)?.outgoing;
  return outgoing instanceof ServerResponse ? outgoing : undefined;
}

/** One server-sent event as Hono's `writeSSE` writes it (`data` is JSON, so one line). */
function sseMessage(event: string, data: string, id?: string): string {
  return `event: ${event}\ndata: ${data}\n${id === undefined ? '' : `id: ${id}\n`}\n`;
}
