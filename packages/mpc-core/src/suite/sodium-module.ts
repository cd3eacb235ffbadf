/**
 * The one load of libsodium's WebAssembly build (`libsodium-wrappers-sumo`, an optional
 * dependency) that every libsodium backend here shares. Rejects when the package is not installed.
 */
export type Sodium = typeof import('libsodium-wrappers-sumo');

let loading: Promise<Sodium> | undefined;

/** The ready libsodium module, loaded once; safe to call many times. */
export function loadSodium(): Promise<Sodium> {
  loading ??= (async () => {
    const mod = (await import('libsodium-wrappers-sumo')) as unknown as { default?: Sodium } & Sodium;
    const sodium = mod.default ?? mod;
    await sodium.ready;
    return sodium;
  })();
  return loading;
}
