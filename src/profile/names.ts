// Profile names become Kubernetes object names and file names on nodes, and they come from recordings and
// command lines, so they are validated, never sanitised into something else silently.

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `name` is not a valid profile name (a DNS-1123 subdomain of at most 253 characters), or undefined. */
export function invalidProfileName(name: string): string | undefined {
  if (name.length === 0) return 'name is empty';
  if (name.length > 253) return `name is ${name.length} characters long (at most 253)`;
  if (name.includes('\0')) return 'name contains a NUL byte';
  if (name.includes('/') || name.includes('..')) return 'name contains a path separator or ".."';
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return 'name must consist of lower case alphanumerics, "-" or ".", and start and end with an alphanumeric';
  }
  return undefined;
}
