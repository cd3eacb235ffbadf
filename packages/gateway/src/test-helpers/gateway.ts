/** Test-only: a whole gateway on a temp LevelDB with the in-process coordinator. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ApprovalProposal,
  type HumanApproval,
  humanApprovalSigningBytes,
  memoryLogger,
} from '@aaps/agents';
import { verifyBundle } from '@aaps/evidence';
import {
  base64Encode,
  bytesToHex,
  type Envelope,
  generateIdentityKey,
  hexToBytes,
  type IdentityKey,
  SCHEMA_VERSION,
  type SignedEnvelope,
  signBytes,
  signEnvelope,
} from '@aaps/mpc-core';
import { createGateway, type Gateway, type GatewayAppConfig } from '../app.js';
import { LocalCoordinator, type LocalKeyMaterial } from '../coordinator-local.js';
import { createDryRunExecutor } from '../executor/dry-run.js';
import type { Executor } from '../executor/types.js';
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
}

export async function makeGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'aaps-gw-'));
  const store = await openGatewayStore(join(dir, 'db'));
  const gatewayKey = opts.gatewayKey ?? generateIdentityKey();
  const approverKey = opts.approverKey ?? generateIdentityKey();
  const coordinator = new LocalCoordinator({
    gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
    approvers: [{ id: 'alice', identity_key: bytesToHex(approverKey.publicKey) }],
    ...(opts.material === undefined ? {} : { material: opts.material }),
  });
  const logger = memoryLogger('gateway');
  const now = () => new Date();
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
    coordinator,
    executor: opts.executor ?? createDryRunExecutor({ now }),
    logger,
    now,
    ids: () => randomUUID(),
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
  const unsigned = {
    approver_id: approver,
    incident_id: proposal.incident_id,
    action: proposal.action,
    proposal_digest: proposal.proposal_digest,
    decision: 'approve' as const,
    approved_at: new Date(now - 1000).toISOString(),
    expires_at: new Date(now + 3600_000).toISOString(),
    ...over,
  };
  const sig = signBytes(key.secretKey, humanApprovalSigningBytes(unsigned));
  const approval: HumanApproval = { ...unsigned, signature: `ed25519:${base64Encode(sig)}` };
  const env: Envelope<Record<string, unknown>> = {
    meta: {
      trace_id: `approval-${proposal.incident_id}`,
      span_id: randomUUID(),
      timestamp: new Date(now).toISOString(),
      source_agent: approver,
      target_agent: 'gateway',
      message_type: 'ApprovalDecision',
      schema_version: SCHEMA_VERSION,
      idempotency_key: randomUUID(),
    },
    context: {
      namespace: 'shop',
      cluster: 'test',
      urgency: 'P2',
      constraints_ref: 'policy://risk-management/v1',
    },
    payload: approval as unknown as Record<string, unknown>,
  };
  return signEnvelope(env, key.secretKey);
}

/** Verifies a bundle the gateway serves with `@aaps/evidence`'s verifier, under the gateway's keys. */
export async function verifyServedBundle(gw: TestGateway, bundle: unknown) {
  const keys = await gw.coordinator.keys();
  return verifyBundle(bundle, { groupPublicKey: hexToBytes(keys.group_public_key) });
}
