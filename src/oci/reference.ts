// OCI references as `oci://` bases and the push/pull commands name them: `registry[:port]/repo/path[:tag][@sha256:hex]`.
// A registry is always explicit (no Docker Hub default): this tool talks to the registry it is told to.

export interface Reference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export class OciReferenceError extends Error {}

const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function parseReference(input: string): Reference {
  let s = input.startsWith('oci://') ? input.slice('oci://'.length) : input;
  if (s.length > 1024) throw new OciReferenceError('reference longer than 1024 characters');
  let digest: string | undefined;
  const at = s.indexOf('@');
  if (at >= 0) {
    digest = s.slice(at + 1);
    s = s.slice(0, at);
    if (!DIGEST.test(digest)) throw new OciReferenceError(`${JSON.stringify(input)}: digest must be sha256:<64 hex>`);
  }
  const slash = s.indexOf('/');
  if (slash <= 0) throw new OciReferenceError(`${JSON.stringify(input)}: expected REGISTRY/REPOSITORY[:TAG][@sha256:…]`);
  const registry = s.slice(0, slash);
  let rest = s.slice(slash + 1);
  if (!/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(registry) && !/^\[[0-9a-fA-F:]+\](:[0-9]{1,5})?$/.test(registry)) {
    throw new OciReferenceError(`${JSON.stringify(input)}: "${registry}" is not a registry host[:port]`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new OciReferenceError(`${JSON.stringify(input)}: "${tag}" is not a valid tag`);
  }
  if (!REPO.test(rest)) throw new OciReferenceError(`${JSON.stringify(input)}: "${rest}" is not a valid repository name`);
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: rest, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Why `input` is not a reference, or undefined. */
export function referenceError(input: string): string | undefined {
  try {
    parseReference(input);
    return undefined;
  } catch (e) {
    if (e instanceof OciReferenceError) return e.message;
    throw e;
  }
}

export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** The manifest reference the registry is asked for: the digest when pinned, else the tag. */
export function identifier(r: Reference): string {
  return r.digest ?? r.tag ?? 'latest';
}
