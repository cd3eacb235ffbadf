import { describe, expect, it } from 'vitest';
import { intakeArgoCD } from './argocd.js';
import { NOTE_MESSAGE_LIMIT, noteProbe, occurrenceNote } from './occurrence.js';
import { mutable, opened, testContext } from './test-helpers/fixtures.js';

function argoItem(message: string) {
  const body = mutable('argocd/template-sync-failed-configmap.json') as {
    operationState: Record<string, unknown>;
  };
  body.operationState['message'] = message;
  return opened(intakeArgoCD(body, testContext()).items)[0]!;
}

describe('occurrenceNote', () => {
  it('names where the occurrence came from and keeps its first message', () => {
    const item = argoItem('sync failed: hook failed');
    expect(occurrenceNote('argocd', item)).toEqual({
      source: 'argocd',
      ref: '$',
      occurrence_key: item.dedup_key,
      incident_type: item.envelope.payload.incident_type,
      evidence_refs: item.envelope.payload.evidence_refs,
      message: 'sync failed: hook failed',
    });
  });

  it('cuts a long message and leaves out what is withheld, saying so', () => {
    const long = argoItem('x'.repeat(NOTE_MESSAGE_LIMIT + 50));
    const message = String(occurrenceNote('argocd', long)['message']);
    expect(message).toHaveLength(NOTE_MESSAGE_LIMIT);
    expect(message.endsWith('…')).toBe(true);
    const note = occurrenceNote('argocd', long, new Set(['message', 'evidence_refs']));
    expect(note).not.toHaveProperty('message');
    expect(note).not.toHaveProperty('evidence_refs');
    expect(note['withheld']).toEqual(['evidence_refs', 'message']);
    expect(noteProbe(long).payload.metadata.messages[0]).toHaveLength(NOTE_MESSAGE_LIMIT + 50);
  });
});
