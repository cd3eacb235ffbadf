/**
 * Secret bytes (signing shares, nonces, data keys). They never print: `toJSON`, `toString` and
 * `util.inspect` all give `<redacted>`, and structured encoders see no enumerable fields. Code
 * that must persist a secret calls {@link SecretBytes.expose} explicitly.
 */
import { inspect } from 'node:util';
import { ValidationError } from './errors.js';

export class SecretBytes {
  readonly #bytes: Uint8Array;
  #wiped = false;

  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array))
      throw new ValidationError('INVALID_ARGUMENT', 'bytes: expected a Uint8Array', ['bytes']);
    this.#bytes = Uint8Array.from(bytes);
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** The raw bytes (a live view: do not retain it beyond the operation that needs it). */
  expose(): Uint8Array {
    return this.#bytes;
  }

  /** Zero the bytes in place. A wiped secret is refused by every operation that reads one. */
  wipe(): void {
    this.#bytes.fill(0);
    this.#wiped = true;
  }

  get wiped(): boolean {
    return this.#wiped;
  }

  toJSON(): string {
    return '<redacted>';
  }

  toString(): string {
    return '<redacted>';
  }

  [inspect.custom](): string {
    return 'SecretBytes <redacted>';
  }
}

/**
 * Base of a protocol's private round state (DKG, refresh): the secrets themselves live outside
 * the object's fields, and the object never prints more than its class and owner.
 */
export abstract class RedactedState {
  abstract readonly identifier: string;

  toJSON(): string {
    return '<redacted>';
  }

  toString(): string {
    return '<redacted>';
  }

  [inspect.custom](): string {
    return `${this.constructor.name} <redacted> (${this.identifier})`;
  }
}
