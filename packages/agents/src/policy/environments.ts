/**
 * A party's own view of where a proposal's target runs (`risk.environments` in its policy). The
 * environment a proposal declares comes from the gateway; it weighs 0 to 20 points of the risk
 * score, enough to move a change across the automatic threshold, so a party scores with the
 * heavier of the declared environment and its own view, and refuses a proposal that declares a
 * lighter one (rules.ts, `risk.environment_understated`).
 */
import { type Environment, environmentWeight } from './risk.js';
import type { Policy } from './schema.js';

/**
 * This policy's environment for `namespace`: an exact entry, else the longest matching prefix
 * (`team-*`, `*`), else `unknown`. A cluster-scoped target (no namespace) is `unknown`.
 */
export function ownEnvironment(policy: Policy, namespace: string | undefined): Environment {
  const map = policy.risk?.environments;
  if (map === undefined || namespace === undefined) return 'unknown';
  // Own entries only: a namespace may be named `constructor` or `toString`.
  if (Object.hasOwn(map, namespace)) return map[namespace]!;
  let best: { length: number; env: Environment } | undefined;
  for (const [key, env] of Object.entries(map)) {
    if (!key.endsWith('*')) continue;
    const prefix = key.slice(0, -1);
    if (namespace.startsWith(prefix) && (best === undefined || prefix.length > best.length)) {
      best = { length: prefix.length, env };
    }
  }
  return best?.env ?? 'unknown';
}

/** Whether `declared` weighs less than `own`: the proposal understates where its target runs. */
export function understates(declared: Environment, own: Environment): boolean {
  return environmentWeight(declared) < environmentWeight(own);
}
