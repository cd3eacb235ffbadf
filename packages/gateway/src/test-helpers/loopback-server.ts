/**
 * HTTP servers on a loopback port for tests of the client CLI: one that answers with a handler,
 * one that serves a test gateway's app (recording the paths it is asked), and a proxy in front of
 * a gateway that is down (502 with an HTML page to everything, counting what it is asked).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { TestGateway } from './gateway.js';

export interface LoopbackServer {
  readonly server: Server;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Drop open connections and stop listening. */
  close(): Promise<void>;
}

/** Serve `handler` on a free loopback port. */
export async function listenLoopback(handler: RequestListener): Promise<LoopbackServer> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** `gw`'s app on a loopback port, as `aaps gateway` serves it; `asked` gets each request's path. */
export function serveGatewayApp(gw: TestGateway, asked: string[] = []): Promise<LoopbackServer> {
  const listener = getRequestListener(gw.app.fetch);
  return listenLoopback((req, res) => {
    asked.push(req.url ?? '');
    void listener(req, res);
  });
}

/** A {@link downGateway}: its URL, and how many requests it was sent since `hits` was last set. */
export type DownGateway = LoopbackServer & { hits: number };

/**
 * A reverse proxy in front of a gateway that is down: 502 with an HTML page for every request.
 * `hits` counts the requests (a test sets it to 0, runs a command, and checks that it asked nothing).
 */
export async function downGateway(): Promise<DownGateway> {
  const counter = { hits: 0 };
  const loopback = await listenLoopback((req, res) => {
    counter.hits++;
    req.resume();
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
  });
  return Object.assign(counter, loopback);
}
