/**
 * What every intake adapter returns: zero or more incidents to open (as unsigned `IncidentSignal`
 * envelopes, each with the key that makes at-least-once redelivery harmless), incidents the
 * source says are over, and what was accepted but deliberately ignored.
 */
import type { Envelope, IncidentSignalPayload } from '@aaps/mpc-core';

export const INTAKE_SOURCES = ['alertmanager', 'argocd', 'github', 'kubernetes', 'envelope'] as const;
export type IntakeSource = (typeof INTAKE_SOURCES)[number];

export type IncidentType = IncidentSignalPayload['incident_type'];
export type Severity = IncidentSignalPayload['severity'];
export type Urgency = Envelope['context']['urgency'];

/** Clock and ids come in from outside, so every adapter is a pure function of its inputs. */
export interface IntakeContext {
  now: () => Date;
  /** A fresh unique id (e.g. `crypto.randomUUID`). Used for `trace_id` and `span_id` only. */
  newId: () => string;
  /** `context.cluster` when the payload does not name one (default `default`). */
  cluster?: string;
  /** `context.constraints_ref` (default `policy://risk-management/v1`). */
  constraintsRef?: string;
  /** Namespaces set aside as a controller's besides the built-in ones (`--controller-namespaces`). */
  controllerNamespaces?: ReadonlySet<string>;
}

/** Open (or, for a duplicate `dedup_key`, find) an incident. */
export interface OpenIncident {
  action: 'open';
  /**
   * Stable across redeliveries of the same occurrence; also the envelope's
   * `meta.idempotency_key`. A second `open` with a known key must create nothing.
   */
  dedup_key: string;
  /**
   * More keys for the same occurrence, e.g. one derived from an authenticated body when
   * `dedup_key` comes from an unauthenticated header. Any one already known makes this a
   * duplicate; all are kept with the incident (also after it ends).
   */
  extra_dedup_keys?: string[];
  /**
   * Same for every occurrence of one problem (e.g. an alert's fingerprint, a Pod and reason): a new
   * occurrence joins the open incident with that key. Unset: it joins nothing (native envelopes,
   * which DESIGN.md dedups by idempotency key only).
   */
  correlation_key?: string;
  /**
   * Further correlation keys this incident answers to while open: a later signal whose
   * `correlation_key` is one of them joins it, but this signal is not looked up by them (a GitHub
   * check run opens its own incident, and its workflow run, naming the run's check suite, joins it;
   * a second job's check run of the same suite does not).
   */
  joinable_by?: string[];
  /**
   * Keys that name this failure also after its incident ended: an Event's uid, an object and
   * reason, a workload and incident type, an alert's fingerprint. A new incident that shares one
   * with an incident whose fix was executed a short while ago is a recurrence: it goes to a person
   * instead of being fixed automatically again. Unset: never treated as a recurrence.
   */
  recurrence_keys?: string[];
  /** Where in the body this came from (`alerts[2]`, `items[0]`, `$`). */
  ref: string;
  envelope: Envelope<IncidentSignalPayload>;
}

/** The source reports the problem of the incident opened under `dedup_key` as gone. */
export interface ResolveIncident {
  action: 'resolve';
  /** The `dedup_key` the incident was opened with. Unknown keys resolve nothing. */
  dedup_key: string;
  correlation_key: string;
  ref: string;
  /** RFC 3339 time the source says the problem ended. */
  at: string;
  actor: string;
}

export type IntakeItem = OpenIncident | ResolveIncident;

export const IGNORE_REASONS = [
  /** GitHub event or Argo CD trigger this gateway does not act on. */
  'event_not_handled',
  /** e.g. GitHub `action` other than `completed`. */
  'action_not_handled',
  /** Completed without failure (success, skipped, cancelled, a successful sync...). */
  'not_a_failure',
  /** A Kubernetes event of type `Normal`. */
  'event_type_normal',
  /** A Kubernetes warning none of the incident types covers. */
  'reason_not_handled',
  /** The same occurrence appears twice in one body. */
  'duplicate_in_batch',
  /** A resolve (e.g. a `resolved` alert) for which no incident was ever opened here. */
  'no_incident',
] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

export interface IgnoredSignal {
  ref: string;
  reason: IgnoreReason;
}

export interface IntakeResult {
  source: IntakeSource;
  items: IntakeItem[];
  ignored: IgnoredSignal[];
}

export type IntakeAdapter<C extends IntakeContext = IntakeContext> = (body: unknown, ctx: C) => IntakeResult;
