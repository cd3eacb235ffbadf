/**
 * Image references as registries and admission controllers spell them: `repo[:tag][@sha256:…]`,
 * with Docker Hub's defaults (`nginx` is `docker.io/library/nginx`). A rollback must never pick
 * the image that is failing, however the history and the failure message each spell it.
 */

/** Splits `repo[:tag][@sha256:…]` into its parts. */
export function splitImageRef(ref: string): { repository: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const colon = name.lastIndexOf(':');
  const hasTag = colon > name.lastIndexOf('/');
  return {
    repository: hasTag ? name.slice(0, colon) : name,
    ...(hasTag ? { tag: name.slice(colon + 1) } : {}),
    ...(digest === undefined ? {} : { digest }),
  };
}

/**
 * The repository with the registry Docker fills in: no registry (a first part without `.` or `:`
 * and not `localhost`) is Docker Hub, and a Docker Hub name without an organisation is in
 * `library/`. `index.docker.io` is Docker Hub too. A registry spelt with `:443` is the same host
 * without it: a runtime reaches a registry over HTTPS, on 443 unless told another port.
 */
export function normaliseRepository(repository: string): string {
  const parts = repository.split('/');
  const first = parts[0] ?? '';
  const hasRegistry =
    parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let registry = hasRegistry ? first.toLowerCase().replace(/:443$/, '') : 'docker.io';
  const path = hasRegistry ? parts.slice(1) : parts;
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && path.length === 1) path.unshift('library');
  return `${registry}/${path.join('/')}`;
}

/** The repository `ref` names, normalised: `nginx:1.27` is in `docker.io/library/nginx`. */
export function repositoryOf(ref: string): string {
  return normaliseRepository(splitImageRef(ref).repository);
}

/**
 * Whether `a` and `b` may be the same image. Two digests decide it (the same digest is the same
 * content, under any name or tag). Without a digest on either side nothing proves them different
 * unless the repositories differ or both name a tag and the tags differ: `web:1.5.0` may well be
 * `web@sha256:X`, so that pair counts as possibly the same.
 */
export function maybeSameImage(a: string, b: string): boolean {
  const x = splitImageRef(a);
  const y = splitImageRef(b);
  if (x.digest !== undefined && y.digest !== undefined) return x.digest === y.digest;
  if (normaliseRepository(x.repository) !== normaliseRepository(y.repository)) return false;
  return x.tag === undefined || y.tag === undefined || x.tag === y.tag;
}

/**
 * The registry host (with its port, if any) `ref` is pulled from, as {@link normaliseRepository}
 * fills it in: `nginx:1.27` is pulled from `docker.io`, `reg.example:5000/a/b` from
 * `reg.example:5000`.
 */
export function registryHostOf(ref: string): string {
  const repository = repositoryOf(ref);
  return repository.slice(0, repository.indexOf('/'));
}
