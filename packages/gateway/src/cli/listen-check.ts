/**
 * The gateway's listen address, tried before a start-up writes anything: a port another process
 * holds then stops `aaps up` with one line, before it stores a token, a key or a log, and not after
 * (the next start would reuse what a failed one left). The gateway itself listens again later
 * (serve.ts), and a port taken in between fails there with the same line.
 */
import { createServer } from 'node:net';
import { ValidationError } from '@aaps/mpc-core';

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One line naming the address and why it cannot be listened on (`EADDRINUSE`, `EACCES`, …). */
export function listenError(host: string, port: number, e: unknown): ValidationError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const remedy =
    code === 'EADDRINUSE' ? ' (another process listens there: stop it, or give another --port)' : '';
  return new ValidationError(
    'UNAVAILABLE',
    `cannot listen on ${hostPort(host, port)}: ${code ?? (e instanceof Error ? e.message : String(e))}${remedy}`,
    ['port'],
    { cause: e },
  );
}

/**
 * Listen on `host:port` and close again; rejects with {@link listenError} when that fails. Port 0
 * (any free port) needs no check.
 */
export async function checkCanListen(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(listenError(host, port, e)));
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
