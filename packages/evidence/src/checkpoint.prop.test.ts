import { VerificationError } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatCheckpoint,
  type NoteKey,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  verifyNote,
} from './checkpoint.js';
import { makeEd25519Key } from './test-helpers/fixtures.js';

const line = fc.stringMatching(/^[\x21-\x7e\u00a0-\u00ff]{1,40}$/);
const checkpointArb = fc.record({
  origin: line,
  size: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  rootHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  extensions: fc.array(line, { maxLength: 3 }),
});

describe('checkpoint laws', () => {
  it('parse inverts format', () => {
    fc.assert(
      fc.property(checkpointArb, (cp) => {
        expect(parseCheckpoint(formatCheckpoint(cp))).toEqual(cp);
      }),
    );
  });

  it('a signed checkpoint opens under its key and not under another', async () => {
    const k = makeEd25519Key();
    const other = makeEd25519Key();
    await fc.assert(
      fc.asyncProperty(checkpointArb, async (cp) => {
        const key: NoteKey = { name: 'aaps.test/log', type: 'ed25519', publicKey: k.publicKey };
        const note = await signCheckpoint(cp, key, k.sign);
        expect(openCheckpoint(note, [key]).size).toBe(cp.size);
        expect(() => openCheckpoint(note, [{ ...key, publicKey: other.publicKey }])).toThrow(
          VerificationError,
        );
      }),
      { numRuns: 50 },
    );
  });

  it('hostile notes fail with log.checkpoint and never crash', async () => {
    const k = makeEd25519Key();
    const key: NoteKey = { name: 'aaps.test/log', type: 'ed25519', publicKey: k.publicKey };
    const real = await signCheckpoint(
      { origin: 'aaps.test/log', size: 5, rootHash: new Uint8Array(32), extensions: [] },
      key,
      k.sign,
    );
    const mutated = fc
      .tuple(fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 3 }))
      .map(([at, insert, cut]) => {
        const i = at % real.length;
        return real.slice(0, i) + insert + real.slice(i + cut);
      });
    fc.assert(
      fc.property(fc.oneof(fc.string(), mutated), (note) => {
        fc.pre(note !== real);
        try {
          verifyNote(note, [key]);
          // A mutation may only pass if it left the signed text and signature line intact.
          expect(note.startsWith('aaps.test/log\n5\n')).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(VerificationError);
          expect((e as VerificationError).check).toBe('log.checkpoint');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
