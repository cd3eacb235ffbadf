/**
 * The gateway store records its layout's version (`m!format`) and refuses, at open, a store a
 * later build laid out: one line naming the store and both versions, and the database left closed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, expect, it } from 'vitest';
import { GATEWAY_STORE_FORMAT, openGatewayStore } from './store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function stamp(path: string, value?: string): Promise<string | undefined> {
  const db = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  await db.open();
  try {
    if (value !== undefined) await db.put('m!format', new TextEncoder().encode(value));
    const got = await db.get('m!format');
    return got === undefined ? undefined : new TextDecoder().decode(got);
  } finally {
    await db.close();
  }
}

it('a new store is stamped; one of a later format is refused at open and left closed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-gateway-format-'));
  dirs.push(dir);
  const path = join(dir, 'db');
  await (await openGatewayStore(path)).close();
  expect(await stamp(path)).toBe(String(GATEWAY_STORE_FORMAT));

  await stamp(path, String(GATEWAY_STORE_FORMAT + 1));
  await expect(openGatewayStore(path)).rejects.toMatchObject({
    code: 'UNSUPPORTED_VERSION',
    message: `gateway store at ${path} is format ${GATEWAY_STORE_FORMAT + 1}, but this build of aaps reads format ${GATEWAY_STORE_FORMAT}: run the version of aaps that wrote it, or a later one`,
  });
  // Closed on the way out: it opens again (here, and in another process) once the stamp is back.
  await stamp(path, String(GATEWAY_STORE_FORMAT));
  await (await openGatewayStore(path)).close();
});
