/** The gateway's Prometheus metrics, on the agents package's registry. */
import { Registry } from '@aaps/agents';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly intake = this.registry.counter('aaps_intake_total', 'Signals received, by source and outcome.');
  readonly sealed = this.registry.counter(
    'aaps_incidents_sealed_total',
    'Incidents whose evidence was sealed, by end state.',
  );
  readonly incidentSeconds = this.registry.histogram(
    'aaps_incident_seconds',
    "Seconds from an incident's arrival to its sealed evidence, by incident type.",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  /**
   * Every error answer (bad token, bad HMAC, schema drift, body too large, ...), by method, route
   * pattern (`unmatched` for an unknown path), status and error code. Fed by the error handler.
   */
  readonly rejected = this.registry.counter(
    'aaps_rejected_requests_total',
    'Requests answered with an error, by method, route, status and error code.',
  );

  /**
   * Checkpoints shown to parties outside their signing quorum (`checkpoint.witness`), by party and
   * outcome (`witnessed`, the refusal's rule, `ahead` for a party that signed a newer checkpoint
   * while the call was out, or `unavailable`). A `checkpoint.fork`, `.rollback`, `.inconsistent`
   * or `.origin` here means a party holds another history of the log. A rule a party signed that
   * is none of the known ones (`checkpoint-witness.ts`) is `other`, so the label set stays bounded.
   */
  readonly witness = this.registry.counter(
    'aaps_checkpoint_witness_total',
    'Checkpoints shown to parties that did not sign them, by party and outcome.',
  );

  render(): string {
    return this.registry.render();
  }
}
