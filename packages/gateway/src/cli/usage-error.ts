/**
 * An error in what the `aaps` CLI was given (flags, config files, the files they name): `run()`
 * prints its message as one line and exits 2. Anything else that fails exits 1.
 */
export class UsageError extends Error {}
