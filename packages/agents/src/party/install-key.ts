/**
 * Puts a new key in place at a party (a committed DKG or refresh, repair step 3): on disk before
 * in use, so a key that failed to save is never served or signed with (the party keeps the one it
 * would hold after a restart); then the nonces drawn for the old share are dropped, as they must
 * never sign with the new one (kept when the share is the same, rebuilt by a repair); then the
 * audit entry.
 *
 * Every change of a party's key, current or pending, runs inside {@link withKeyLock}, one after
 * the other: "may this party take this key?" is asked inside the lock, so two round 3s or commits
 * that arrive together cannot both pass the check before either saved.
 */
import { keySetIdOf } from '@aaps/mpc-core';
import type { PartyDeps, PartyState } from './context.js';

const chains = new WeakMap<PartyState, Promise<unknown>>();

/** Run `change` once every key change queued before it at this party has settled. */
export function withKeyLock<T>(state: PartyState, change: () => Promise<T> | T): Promise<T> {
  const before = chains.get(state) ?? Promise.resolve();
  const run = before.then(change, change);
  chains.set(
    state,
    run.catch(() => {}),
  );
  return run;
}

export async function installKey(
  deps: Pick<PartyDeps, 'store'>,
  state: PartyState,
  key: NonNullable<PartyState['key']>,
  audit: { event: string; session: string; at: string },
  save: () => Promise<void> = () => deps.store.saveKey(key),
): Promise<void> {
  const before = state.key;
  await save();
  state.key = key;
  // Nonces are bound to the share they were drawn for (`keySetIdOf`): another share must never
  // sign with them, so they go. The same share rebuilt (a repair of a party that held it) keeps
  // them good, and dropping them would only spoil the commitments the gateway has pooled.
  const sameShare = before !== undefined && keySetIdOf(before.keyPackage) === keySetIdOf(key.keyPackage);
  const dropped = sameShare ? 0 : await deps.store.clearNonces();
  await deps.store.audit({
    at: audit.at,
    event: audit.event,
    session: audit.session,
    detail: { dropped_nonces: dropped },
  });
}
