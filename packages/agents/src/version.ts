/**
 * The release a process runs: the `version` of its package's package.json, read at run time (so a
 * host whose binaries were replaced reports what it runs, not what was built in).
 */
import { readFileSync } from 'node:fs';

/** The `version` of the package.json at `packageJson`, or `unknown` when it cannot be read. */
export function readPackageVersion(packageJson: URL): string {
  try {
    const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' && version !== '' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

let agentsVersion: string | undefined;

/** The release of `@aaps/agents` this process runs (`src/` and `dist/` sit beside package.json). */
export function partyVersion(): string {
  agentsVersion ??= readPackageVersion(new URL('../package.json', import.meta.url));
  return agentsVersion;
}
