import { describe, expect, it } from 'vitest';
import { intakeEnvelope } from './envelope.js';
import { fixture, invalidFields, mutable } from './test-helpers/fixtures.js';

type Env = {
  meta: Record<string, unknown>;
  context: Record<string, unknown>;
  payload: Record<string, unknown>;
};

describe('intakeEnvelope', () => {
  it('accepts an IncidentSignal envelope as sent, keyed by its idempotency key under envelope:, uncorrelated', () => {
    const body = fixture('envelope/incident-signal.json');
    const r = intakeEnvelope(body);
    expect(r).toEqual({
      source: 'envelope',
      items: [
        {
          action: 'open',
          dedup_key: 'envelope:5e2b8f71-93c4-4d0a-b6e8-1f7a9c3d5e20',
          ref: '$',
          envelope: body,
        },
      ],
      ignored: [],
    });
  });

  it('keeps a signature and extra payload keys for the caller', () => {
    const body = mutable('envelope/incident-signal.json') as Env;
    body.meta['signature'] = `ed25519:${Buffer.alloc(64, 7).toString('base64')}`;
    body.payload['detected_by'] = 'pattern-agent';
    const [item] = intakeEnvelope(body).items;
    expect(item?.action === 'open' && item.envelope.meta.signature).toBe(body.meta['signature']);
    expect(item?.action === 'open' && item.envelope.payload['detected_by']).toBe('pattern-agent');
  });

  it('names every bad field, including unknown keys and the wrong message type', () => {
    const body = mutable('envelope/incident-signal.json') as Env & Record<string, unknown>;
    body.meta['message_type'] = 'RCAReport';
    body.meta['signature'] = 'rsa:abc';
    body.meta['extra'] = 1;
    delete body.meta['idempotency_key'];
    body.context['urgency'] = 'P0';
    body.payload['incident_type'] = 'disk_full';
    body.payload['affected_resources'] = ['configmap://shop/x', ''];
    body['trailer'] = true;
    expect([...invalidFields(() => intakeEnvelope(body))].sort()).toEqual(
      [
        'meta.message_type',
        'meta.signature',
        'meta.extra',
        'meta.idempotency_key',
        'context.urgency',
        'payload.incident_type',
        'payload.affected_resources[1]',
        'trailer',
      ].sort(),
    );
  });

  it('refuses a timestamp that is not RFC 3339 and a schema version from another major', () => {
    const body = mutable('envelope/incident-signal.json') as Env;
    body.meta['timestamp'] = '25/11/2026 14:41';
    body.meta['schema_version'] = 'v2.0.0';
    expect([...invalidFields(() => intakeEnvelope(body))].sort()).toEqual([
      'meta.schema_version',
      'meta.timestamp',
    ]);
  });
});
