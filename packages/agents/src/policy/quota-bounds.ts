/**
 * A policy's bounds on a quota change (`bounds.resource_quota`), read one way by the problem
 * solver that proposes a new hard limit and by every signer that checks it (rules.ts), so the two
 * cannot drift apart: a resource the policy lets be adjusted, a new limit at most `factor` times
 * the current one (exactly: the factor has at most three decimals), and at most the policy's own
 * cap for the resource (none set: no change of it at all).
 */
import { parseQuantity } from './quantity.js';
import type { Policy } from './schema.js';

type QuotaBounds = Policy['bounds']['resource_quota'];

/** Whether the policy lets `resource`'s hard limit be adjusted at all. */
export function quotaAdjustable(bounds: QuotaBounds, resource: string): boolean {
  return bounds.resources.includes(resource);
}

/** Whether `newHard` is at most the policy's factor times `currentHard` (both in the same unit). */
export function withinQuotaFactor(bounds: QuotaBounds, currentHard: bigint, newHard: bigint): boolean {
  const factorMilli = BigInt(Math.round(bounds.max_increase_factor * 1000));
  return newHard * 1000n <= currentHard * factorMilli;
}

/** The policy's cap for `resource` (its text, and its value in the unit `parseQuantity` gives), if it sets one. */
export function quotaCap(bounds: QuotaBounds, resource: string): { text: string; value: bigint } | undefined {
  if (!Object.hasOwn(bounds.max_hard, resource)) return undefined;
  const text = bounds.max_hard[resource]!;
  return { text, value: parseQuantity(text, 'max_hard') };
}
