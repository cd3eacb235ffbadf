/** Test-only: a whole gateway on a temp LevelDB with the in-process coordinator. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ApprovalBacking,
  type ApprovalProposal,
  type DeploymentRecord,
  type HumanApproval,
  type HumanRejection,
  memoryLogger,
  PARTY_ROLES,
  signBacking,
} from '@aaps/agents';
import { verifyBundle } from '@aaps/evidence';
import {
  bytesToHex,
  type Envelope,
  generateIdentityKey,
  hexToBytes,
  type IdentityKey,
  identityPublicKey,
  SCHEMA_VERSION,
  SecretBytes,
  type SignedEnvelope,
} from '@aaps/mpc-core';
import { afterEach } from 'vitest';
import { createGateway, type Gateway, type GatewayAppConfig } from '../app.js';
import { signedApprovalEnvelope, signedRejectionEnvelope } from '../approval-envelope.js';
import type { Coordinator } from '../coordinator.js';
import {
  LocalCoordinator,
  type LocalCoordinatorOptions,
  type LocalKeyMaterial,
} from '../coordinator-local.js';
import { createDryRunExecutor } from '../executor/dry-run.js';
import type { Executor } from '../executor/types.js';
import { monotonicIds } from '../incident-ids.js';
import { signGithubPayload } from '../intake/github-signature.js';
import { type GatewayStore, openGatewayStore } from '../store.js';

export const TOKENS = {
  admin: 'admin-token-0123456789abcdef',
  submit: 'submit-token-0123456789abcdef',
  read: 'read-token-0123456789abcdef0',
  approve: 'approve-token-0123456789abcd',
} as const;
export const GITHUB_SECRET = 'github-webhook-secret-for-tests';
export const GITOPS_REPO = 'https://git.example/platform/deploy.git';

const FIXTURES = new URL('../../test-fixtures/', import.meta.url);
export function fixtureText(path: string): string {
  return readFileSync(new URL(path, FIXTURES), 'utf8');
}
export function fixture(path: string): Record<string, unknown> {
  return JSON.parse(fixtureText(path)) as Record<string, unknown>;
}

export interface TestGateway extends Gateway {
  store: GatewayStore;
  coordinator: LocalCoordinator;
  dir: string;
  gatewayKey: IdentityKey;
  approverKey: IdentityKey;
  logger: ReturnType<typeof memoryLogger>;
  /** Closes the store (the directory stays until `cleanup`). */
  close(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface TestGatewayOptions {
  dir?: string;
  executor?: Executor;
  material?: LocalKeyMaterial;
  gatewayKey?: IdentityKey;
  approverKey?: IdentityKey;
  config?: Partial<GatewayAppConfig>;
  policies?: LocalCoordinatorOptions['policies'];
  partyIds?: LocalCoordinatorOptions['partyIds'];
  ciphersuite?: LocalCoordinatorOptions['ciphersuite'];
  /** Wraps the coordinator the gateway uses (e.g. to make a party flaky). */
  wrap?: (c: LocalCoordinator) => Coordinator;
  /** The gateway's clock (default: the real one). */
  now?: () => Date;
  /** Deployment-history lines recorded before the gateway starts (e.g. {@link LEDGER_HISTORY}). */
  history?: DeploymentRecord[];
}

/**
 * A healthy, digest-pinned line of deployment `payments/ledger`, container `ledger`: what confirms
 * the Deployment the intake reads from the name of pod `ledger-5d8c7b9f6-qwk4r`
 * (kubernetes/core-v1-image-pull-failed.json), so its image rollback may be automatic.
 */
export const LEDGER_HISTORY: DeploymentRecord[] = [
  {
    workload: 'deployment://payments/ledger',
    container: 'ledger',
    image: `registry.example.net/payments/ledger:2.3.0@sha256:${'5a'.repeat(32)}`,
    revision: 1,
    deployed_at: '2026-11-20T00:00:00Z',
    outcome: 'healthy',
  },
];

export async function makeGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'aaps-gw-'));
  const store = await openGatewayStore(join(dir, 'db'));
  for (const h of opts.history ?? []) await store.updateDeploymentHistory(h.workload, (l) => [...l, h]);
  const gatewayKey = opts.gatewayKey ?? generateIdentityKey();
  const approverKey = opts.approverKey ?? generateIdentityKey();
  const coordinator = new LocalCoordinator({
    gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
    approvers: [{ id: 'alice', identity_key: bytesToHex(approverKey.publicKey) }],
    ...(opts.material === undefined ? {} : { material: opts.material }),
    ...(opts.policies === undefined ? {} : { policies: opts.policies }),
    ...(opts.partyIds === undefined ? {} : { partyIds: opts.partyIds }),
    ...(opts.ciphersuite === undefined ? {} : { ciphersuite: opts.ciphersuite }),
  });
  const logger = memoryLogger('gateway');
  const now = opts.now ?? (() => new Date());
  const gw = createGateway({
    config: {
      tokens: [
        { name: 'admin', token: TOKENS.admin, scopes: ['admin'] },
        { name: 'ci', token: TOKENS.submit, scopes: ['submit'] },
        { name: 'viewer', token: TOKENS.read, scopes: ['read'] },
        { name: 'oncall', token: TOKENS.approve, scopes: ['approve', 'read'] },
      ],
      githubSecret: GITHUB_SECRET,
      logOrigin: 'aaps.test/log',
      gitopsRepoUrl: GITOPS_REPO,
      keepAliveMs: 50,
      ...opts.config,
    },
    store,
    coordinator: opts.wrap === undefined ? coordinator : opts.wrap(coordinator),
    executor: opts.executor ?? createDryRunExecutor({ now }),
    logger,
    now,
    ids: monotonicIds(),
    identity: { id: 'gateway', key: gatewayKey },
    trust: async () => coordinator.trustedKeys(),
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await gw.runner.close();
    await store.close();
  };
  return {
    ...gw,
    store,
    coordinator,
    dir,
    gatewayKey,
    approverKey,
    logger,
    close,
    async cleanup() {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `gateway(opts)` for a test file: each gateway it makes (with `defaults` under `opts`) is cleaned
 * up after the test that made it (a vitest `afterEach` this registers).
 */
export function gatewayPerTest(
  defaults: TestGatewayOptions = {},
): (opts?: TestGatewayOptions) => Promise<TestGateway> {
  const open: TestGateway[] = [];
  afterEach(async () => {
    for (const gw of open.splice(0)) await gw.cleanup();
  });
  return async (opts = {}) => {
    const gw = await makeGateway({ ...defaults, ...opts });
    open.push(gw);
    return gw;
  };
}

export function request(
  gw: Pick<Gateway, 'app'>,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  let body: string | Uint8Array | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  return Promise.resolve(gw.app.request(path, { method, headers, ...(body === undefined ? {} : { body }) }));
}

/** A GitHub webhook delivery as GitHub sends it: the raw body signed with the tests' secret. */
export function githubDelivery(
  gw: Pick<Gateway, 'app'>,
  raw: string,
  event: string,
  delivery: string,
): Promise<Response> {
  return request(gw, 'POST', '/v1/webhooks/github', {
    raw,
    headers: {
      'x-github-event': event,
      'x-github-delivery': delivery,
      'x-hub-signature-256': signGithubPayload(new TextEncoder().encode(raw), GITHUB_SECRET),
    },
  });
}

/**
 * An Alertmanager webhook (version 4) of one firing alert with these labels and annotations, as
 * Alertmanager sends it (the group and common labels the alert's own).
 */
export function alertmanagerBody(
  labels: Record<string, string>,
  annotations: Record<string, string>,
  fingerprint = '5e1f0c2d3b4a6978',
): Record<string, unknown> {
  const a = {
    status: 'firing',
    labels,
    annotations,
    startsAt: '2026-11-27T08:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.monitoring.svc:9090/graph?g0.expr=x',
    fingerprint,
  };
  return {
    receiver: 'aaps-gateway',
    status: 'firing',
    alerts: [a],
    groupLabels: { alertname: labels['alertname']! },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: 'http://alertmanager.monitoring.svc:9093',
    version: '4',
    groupKey: `{}:{alertname="${labels['alertname']}"}`,
    truncatedAlerts: 0,
  };
}

export async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

/** A human approval of `proposal`, signed by `key` as `approver`, in an envelope it also signs. */
export function approvalEnvelope(
  proposal: ApprovalProposal,
  key: IdentityKey,
  over: Partial<Omit<HumanApproval, 'signature'>> = {},
  approver = 'alice',
): SignedEnvelope {
  const now = Date.now();
  return signedApprovalEnvelope({
    proposal,
    approver,
    key,
    approvedAt: new Date(now - 1000),
    expiresAt: new Date(now + 3600_000),
    context: DECISION_CONTEXT,
    override: over,
  });
}

/** The envelope context of the tests' human decisions. */
const DECISION_CONTEXT = {
  namespace: 'shop',
  cluster: 'test',
  urgency: 'P2',
  constraints_ref: 'policy://risk-management/v1',
} as const;

/** A signed human rejection of incident `id` by `approver` (default alice), for the approvals route. */
export function rejectionEnvelope(
  id: string,
  key: IdentityKey,
  reason: string,
  over: Partial<Omit<HumanRejection, 'signature'>> = {},
  approver = 'alice',
): SignedEnvelope {
  return signedRejectionEnvelope({
    incidentId: id,
    approver,
    key,
    reason,
    rejectedAt: new Date(Date.now() - 1000),
    context: DECISION_CONTEXT,
    override: over,
  });
}

/** Verifies a bundle the gateway serves with `@aaps/evidence`'s verifier, under the gateway's keys. */
export async function verifyServedBundle(gw: TestGateway, bundle: unknown) {
  const keys = await gw.coordinator.keys();
  return verifyBundle(bundle, { groupPublicKey: hexToBytes(keys.group_public_key) });
}

/** An `IncidentSignal` envelope (unsigned) for `POST /v1/incidents`. */
export function signalEnvelope(
  payload: {
    incident_type?: string;
    affected_resources: string[];
    metadata: Record<string, unknown>;
    evidence_refs?: string[];
  },
  over: { idempotency_key?: string; source_agent?: string; namespace?: string } = {},
): Envelope<Record<string, unknown>> {
  return {
    meta: {
      trace_id: `trace-${randomUUID()}`,
      span_id: randomUUID(),
      timestamp: new Date().toISOString(),
      source_agent: over.source_agent ?? 'prometheus-bridge',
      target_agent: 'monitoring-agent',
      message_type: 'IncidentSignal',
      schema_version: SCHEMA_VERSION,
      idempotency_key: over.idempotency_key ?? randomUUID(),
    },
    context: {
      namespace: over.namespace ?? 'shop',
      cluster: 'prod-eu-1',
      urgency: 'P1',
      constraints_ref: 'policy://risk-management/v1',
    },
    payload: {
      incident_type: payload.incident_type ?? 'unknown',
      severity: 'high',
      affected_resources: payload.affected_resources,
      evidence_refs: payload.evidence_refs ?? ['event://shop/evt-1'],
      metadata: { namespace: over.namespace ?? 'shop', ...payload.metadata },
    },
  };
}

export const GOOD_IMAGE = `registry.example/shop/web@sha256:${'ab'.repeat(32)}`;

export const SIGNALS = {
  rbac: () =>
    signalEnvelope({
      affected_resources: ['serviceaccount://shop/deployer'],
      metadata: {
        reason: 'FailedCreate',
        messages: [
          'Error creating: deployments.apps is forbidden: User "system:serviceaccount:shop:deployer" cannot create resource "deployments" in API group "apps" in the namespace "shop"',
        ],
      },
    }),
  imageSignature: () =>
    signalEnvelope({
      affected_resources: ['deployment://shop/web'],
      metadata: {
        reason: 'FailedCreate',
        messages: [
          `admission webhook "policy.sigstore.dev" denied the request: validation failed: failed policy: image-policy: spec.containers[0].image registry.example/shop/web@sha256:${'9e'.repeat(32)} signature key validation failed: no matching signatures`,
        ],
        deployment_history: [
          {
            workload: 'deployment://shop/web',
            container: 'web',
            image: GOOD_IMAGE,
            revision: 4,
            deployed_at: '2026-11-10T00:00:00Z',
            outcome: 'healthy',
          },
        ],
      },
    }),
  quota: (extra: Record<string, unknown> = {}) =>
    signalEnvelope({
      affected_resources: ['deployment://shop/web'],
      metadata: {
        reason: 'FailedCreate',
        messages: [
          'Error creating: pods "web-7d9f8b6c5-4lqpz" is forbidden: exceeded quota: compute, requested: limits.cpu=2,limits.memory=1Gi, used: limits.cpu=3,limits.memory=3Gi, limited: limits.cpu=4,limits.memory=4Gi',
        ],
        ...extra,
      },
    }),
};

/** Gets one incident as the API shows it. */
export async function incident(gw: Pick<Gateway, 'app'>, id: string): Promise<Record<string, unknown>> {
  return json(await request(gw, 'GET', `/v1/incidents/${id}`, { token: TOKENS.read }));
}

/**
 * A coordinator that passes the local one's five core calls through, with any of them replaced
 * by `over` (a flaky party, a refusing quorum, a pooled risk): what the workflow tests wrap.
 */
export function delegating(c: LocalCoordinator, over: Partial<Coordinator> = {}): Coordinator {
  return {
    keys: () => c.keys(),
    agentStep: (role, input) => c.agentStep(role, input),
    signApproval: (p, b) => c.signApproval(p, b),
    signEvidence: (i) => c.signEvidence(i),
    signCheckpoint: (i) => c.signCheckpoint(i),
    ...over,
  };
}

/**
 * Options for {@link makeGateway} whose every agent step waits until `release()`: a run then holds
 * its incident's lock, stopped in its first step, for tests of what may and may not wait for it.
 */
export function heldSteps(): { options: TestGatewayOptions; release: () => void } {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    options: {
      wrap: (c) =>
        delegating(c, {
          agentStep: async (role, input) => {
            await held;
            return c.agentStep(role, input);
          },
        }),
    },
    release: () => release(),
  };
}

/** The local coordinator's party of `role`: its id and identity key (as that party signs). */
export function localPartyIdentity(c: LocalCoordinator, role: (typeof PARTY_ROLES)[number]) {
  const seed = hexToBytes(c.exportMaterial().identity_seeds[PARTY_ROLES.indexOf(role)]!);
  const secretKey = new SecretBytes(seed);
  return { id: role, key: { secretKey, publicKey: identityPublicKey(secretKey) } };
}

/**
 * The backing of `proposal` signed with the local coordinator's problem-solver and strategy
 * identity keys, for tests that ask it for an approval without running the agent steps.
 */
export function localBacking(
  c: LocalCoordinator,
  proposal: ApprovalProposal,
  decision: 'auto' | 'needs_human' = 'auto',
): ApprovalBacking {
  const fix = localPartyIdentity(c, 'problem-solver');
  return signBacking(proposal, { fix, decision: localPartyIdentity(c, 'strategy') }, { decision });
}
