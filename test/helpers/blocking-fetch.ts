/** A `fetch` that fails as a refused connection for the URLs `blocked` names: a party cut off. */
export function blockingFetch(blocked: (url: URL) => boolean): typeof fetch {
  return (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (blocked(url))
      return Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));
    return fetch(input, init);
  };
}
