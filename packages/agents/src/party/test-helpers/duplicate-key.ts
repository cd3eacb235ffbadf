/** Test-only: a JSON body with a key given twice, and what its refusal looks like (party and gateway). */
import { expect } from 'vitest';

/** `text` with `extra` inserted right after the `nth` occurrence of `anchor` (from 1). */
export function injectKey(text: string, anchor: string, extra: string, nth = 1): string {
  let at = -1;
  for (let i = 0; i < nth; i++) {
    at = text.indexOf(anchor, at + 1);
    if (at < 0) throw new Error(`no ${anchor} in the body`);
  }
  const cut = at + anchor.length;
  return text.slice(0, cut) + extra + text.slice(cut);
}

/** `res` is the 400 `DECODE_FAILED` refusal of a body that gives `path` twice, naming it. */
export async function expectDuplicateRefused(res: Response, path: string): Promise<void> {
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { code: string; message: string; fields?: string[] } };
  expect(body.error.code).toBe('DECODE_FAILED');
  expect(body.error.message).toContain(`${path} is given twice`);
  expect(body.error.fields).toEqual([path]);
}
