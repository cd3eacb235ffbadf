/**
 * Run `aaps log audit` (`runLogAudit`) against a test gateway's app, through `app.request`, with
 * its answers optionally passed through `rewrite` (a hostile or broken gateway).
 */
import { type LogAuditFlags, runLogAudit } from '../cli/log-audit.js';
import { parseGatewayConfig } from '../config.js';
import { type TestGateway, TOKENS } from './gateway.js';

export type Rewrite = (path: string, res: Response) => Promise<Response> | Response;

const BASE = 'http://gw.test';

/** The audit's exit code and the lines it printed (`out`) and said on stderr (`err`). */
export async function auditLog(
  gw: TestGateway,
  dataDir: string,
  flags: LogAuditFlags,
  rewrite?: Rewrite,
): Promise<{ code: number; out: string[]; err: string[] }> {
  const parsed = parseGatewayConfig(['--data-dir', dataDir, '--url', BASE], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const out: string[] = [];
  const err: string[] = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const path = String(url).slice(BASE.length);
    const res = await gw.app.request(path, init);
    return rewrite === undefined ? res : rewrite(path, res);
  }) as typeof globalThis.fetch;
  const io = { print: (l: string) => void out.push(l), error: (l: string) => void err.push(l), fetch };
  const code = await runLogAudit(['audit'], parsed.config, TOKENS.read, io, flags);
  return { code, out, err };
}
