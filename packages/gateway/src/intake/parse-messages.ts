/**
 * The message parsers the intake reads facts with. They live in `@aaps/agents`
 * (`steps/signal-text.ts`), which the monitoring agent reads signals with too, so the gateway's
 * reading and the agent's cannot drift apart; this module only names them for the intake.
 */
export {
  isConfigSyntaxError,
  isImagePullFailure,
  type LimitRangeFacts,
  type MissingConfigFacts,
  parseImageRef,
  parseLimitRange,
  parseMissingConfig,
  parseQuotaExceeded,
  parseRbacForbidden,
  parseSignatureDenial,
  type QuotaFacts,
  type RbacFacts,
  type SignatureDenialFacts,
  splitImageRef,
} from '@aaps/agents';
