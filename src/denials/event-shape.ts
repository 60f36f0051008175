// The shape of a schema-v1 event, checked where events enter a query (NDJSON lines, Kafka messages): JSON
// from a file or a topic is not trusted to hold what EventV1 says, and one wrongly typed field ("exe": 1,
// "syscall": {}, "pod": {"name": 2}) would otherwise throw deep in a filter or a table and end the whole
// query. Also bounded: the nesting depth (JSON.parse takes 100 000 levels of "[", JSON.stringify of the
// same overflows the stack when the event is written back out).

type Check = (v: unknown, path: string) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const is = (ok: (v: unknown) => boolean): Check => (v, p) => (ok(v) ? undefined : p);

const str = is((v) => typeof v === 'string');
const num = is((v) => typeof v === 'number' && Number.isFinite(v));
const bool = is((v) => typeof v === 'boolean');
const opt = (c: Check): Check => (v, p) => (v === undefined ? undefined : c(v, p));
const nul = (c: Check): Check => (v, p) => (v === null ? undefined : c(v, p));
const optStr = opt(nul(str));
const arrayOf = (c: Check): Check => (v, p) => {
  if (!Array.isArray(v)) return p;
  for (let i = 0; i < v.length; i++) {
    const bad = c(v[i], `${p}[${i}]`);
    if (bad) return bad;
  }
  return undefined;
};
const mapOf = (c: Check): Check => (v, p) => {
  if (!isObject(v)) return p;
  for (const k in v) {
    const bad = c(v[k], `${p}.${k}`);
    if (bad) return bad;
  }
  return undefined;
};
const obj = (spec: Record<string, Check>): Check => (v, p) => {
  if (!isObject(v)) return p;
  for (const k in spec) {
    const bad = spec[k]!(v[k], p ? `${p}.${k}` : k);
    if (bad) return bad;
  }
  return undefined;
};

const context = obj({ user: str, role: str, type: str, level: optStr });

const EVENT = obj({
  type: str,
  kind: str,
  timestamp: str,
  serial: num,
  node: str,
  source: obj({ file: optStr, format: opt(str) }),
  pid: opt(nul(num)),
  ppid: opt(nul(num)),
  comm: optStr,
  exe: optStr,
  uid: opt(nul(num)),
  gid: opt(nul(num)),
  auid: opt(nul(num)),
  ses: opt(nul(num)),
  arch: optStr,
  syscall: optStr,
  syscallNr: opt(num),
  action: opt(str),
  actionData: opt(num),
  selinux: opt(
    nul(
      obj({
        decision: str,
        permissions: arrayOf(str),
        scontext: optStr,
        tcontext: optStr,
        tclass: optStr,
        permissive: opt(nul(bool)),
        source: opt(nul(context)),
        target: opt(nul(context)),
      }),
    ),
  ),
  selinuxError: opt(nul(obj({ op: optStr, reason: optStr, scontext: optStr, tcontext: optStr, tclass: optStr }))),
  apparmor: opt(nul(obj({ apparmor: str, operation: optStr, profile: optStr, name: optStr, requestedMask: optStr, deniedMask: optStr }))),
  records: opt(arrayOf(str)),
  proctitle: optStr,
  cwd: optStr,
  paths: opt(arrayOf(str)),
  fields: opt(mapOf(nul(str))),
  interpreted: opt(mapOf(nul(str))),
  container: opt(nul(obj({ id: str, name: optStr, runtime: optStr, image: optStr, sandbox: opt(bool) }))),
  pod: opt(nul(obj({ name: str, namespace: str, uid: opt(str), labels: opt(mapOf(str)) }))),
  enrichment: opt(str),
  enrichmentError: opt(str),
  raw: opt(str),
});

/** The first field of `o` (a path like `pod.name`) whose type is not the schema's, or undefined. */
export function badField(o: Record<string, unknown>): string | undefined {
  return EVENT(o, '');
}

/** Deepest nesting an event may have (a schema-v1 event has 3 levels; room for added fields). */
export const MAX_DEPTH = 32;

/** Whether `v` nests objects/arrays deeper than `max` (iterative: no recursion on hostile input). */
export function tooDeep(v: unknown, max = MAX_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d >= max) return true;
    for (const y of Array.isArray(x) ? x : Object.values(x)) if (typeof y === 'object' && y !== null) stack.push([y, d + 1]);
  }
  return false;
}
