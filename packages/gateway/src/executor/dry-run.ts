/** The default executor: records the exact change and touches nothing. */

import { planChange } from './plan.js';
import type { AppliedChange, ExecutionOrderPayload, Executor, RollbackOutcome } from './types.js';

export function createDryRunExecutor(opts: { now: () => Date }): Executor {
  return {
    name: 'dry-run',
    async apply(order: ExecutionOrderPayload): Promise<AppliedChange> {
      const plan = planChange(order.proposal, opts.now().toISOString());
      return {
        change: { mode: 'dry-run', ...plan },
        post_checks: [{ name: 'change.recorded', passed: true, detail: plan.summary }],
      };
    },
    async rollback(): Promise<RollbackOutcome> {
      return { done: true, detail: 'dry-run: nothing was applied' };
    },
  };
}
