/**
 * What the timeline says about an occurrence that joined an open incident (`occurrence.joined`):
 * where it came from and its first message, so a failure that arrives while its incident is open
 * is recorded, not only counted. Pure: the caller says which parts the sealing policy withholds.
 */
import type { IntakeSource, OpenIncident } from './types.js';

/** The longest message a note keeps, characters (the rest is cut, with `…`). */
export const NOTE_MESSAGE_LIMIT = 1024;

/** The parts of a note that may carry a source's free text. */
export type NotePart = 'message' | 'evidence_refs';

/** The note's message and references, as an incident payload holds them (for the sealing detectors). */
export function noteProbe(item: OpenIncident): {
  payload: { metadata: { messages: string[] }; evidence_refs: string[] };
} {
  const message = firstMessage(item);
  return {
    payload: {
      metadata: { messages: message === undefined ? [] : [message] },
      evidence_refs: item.envelope.payload.evidence_refs,
    },
  };
}

function firstMessage(item: OpenIncident): string | undefined {
  const messages = item.envelope.payload.metadata['messages'];
  if (!Array.isArray(messages)) return undefined;
  return messages.find((m): m is string => typeof m === 'string' && m !== '');
}

/**
 * The note's detail: `{source, ref, occurrence_key, incident_type, evidence_refs, message}`; a part
 * in `withheld` is left out and named in `withheld` instead.
 */
export function occurrenceNote(
  source: IntakeSource,
  item: OpenIncident,
  withheld: ReadonlySet<NotePart> = new Set(),
): Record<string, unknown> {
  const message = firstMessage(item);
  const cut =
    message === undefined || message.length <= NOTE_MESSAGE_LIMIT
      ? message
      : `${message.slice(0, NOTE_MESSAGE_LIMIT - 1)}…`;
  return {
    source,
    ref: item.ref,
    occurrence_key: item.dedup_key,
    incident_type: item.envelope.payload.incident_type,
    ...(withheld.has('evidence_refs') ? {} : { evidence_refs: item.envelope.payload.evidence_refs }),
    ...(cut === undefined || withheld.has('message') ? {} : { message: cut }),
    ...(withheld.size === 0 ? {} : { withheld: [...withheld].sort() }),
  };
}
