/**
 * Whether nothing listens at `url` any more: a request to it is refused (`ECONNREFUSED`). A
 * process that still listens but hangs, or answers, is not gone: a timeout or an answer is `false`.
 */
export async function connectionRefused(url: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return false;
  } catch (e) {
    return (e as { cause?: { code?: unknown } }).cause?.code === 'ECONNREFUSED';
  }
}
