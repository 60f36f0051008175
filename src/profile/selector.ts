// Kubernetes label selectors (metav1.LabelSelector): matching, and the kubectl `-l` string form for the
// command line. ProfileRecording.spec.podSelector and `auditflow run --record` both select pods this way.

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export class SelectorError extends Error {}

/** As Kubernetes: an empty selector matches everything. */
export function matchesSelector(sel: LabelSelector, labels: Record<string, string> | null | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.operator) {
      case 'In':
        if (!has || !(r.values ?? []).includes(l[r.key]!)) return false;
        break;
      case 'NotIn':
        if (has && (r.values ?? []).includes(l[r.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * Parses kubectl's selector syntax: `app=demo,tier!=db,env in (a,b),env notin (c),gpu,!legacy`.
 * `==` is `=`; `!=` becomes NotIn with one value (as kubectl does).
 */
export function parseSelector(text: string): LabelSelector {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: LabelSelectorRequirement[] = [];
  for (const term of splitTerms(text)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^([^\s=!(),]+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
      matchExpressions.push({ key: checkKey(m[1]!), operator: m[2] === 'in' ? 'In' : 'NotIn', values: values.map(checkValue) });
    } else if ((m = term.match(/^([^\s=!(),]+)\s*!=\s*([^\s=!(),]*)$/))) {
      matchExpressions.push({ key: checkKey(m[1]!), operator: 'NotIn', values: [checkValue(m[2]!)] });
    } else if ((m = term.match(/^([^\s=!(),]+)\s*==?\s*([^\s=!(),]*)$/))) {
      matchLabels[checkKey(m[1]!)] = checkValue(m[2]!);
    } else if ((m = term.match(/^!\s*([^\s=!(),]+)$/))) {
      matchExpressions.push({ key: checkKey(m[1]!), operator: 'DoesNotExist' });
    } else if ((m = term.match(/^([^\s=!(),]+)$/))) {
      matchExpressions.push({ key: checkKey(m[1]!), operator: 'Exists' });
    } else {
      throw new SelectorError(`invalid label selector term "${term}"`);
    }
  }
  const sel: LabelSelector = {};
  if (Object.keys(matchLabels).length) sel.matchLabels = matchLabels;
  if (matchExpressions.length) sel.matchExpressions = matchExpressions;
  return sel;
}

function splitTerms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '' || out.length) out.push(cur.trim());
  if (out.some((t) => t === '')) throw new SelectorError(`invalid label selector "${text}": empty term`);
  return out;
}

// Label keys: optional DNS subdomain prefix + "/" + name of ≤63 [A-Za-z0-9_.-], alphanumeric at both ends.
const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

function checkKey(k: string): string {
  const slash = k.indexOf('/');
  const ok = slash === -1 ? NAME.test(k) : PREFIX.test(k.slice(0, slash)) && NAME.test(k.slice(slash + 1));
  if (!ok) throw new SelectorError(`invalid label key "${k}"`);
  return k;
}

function checkValue(v: string): string {
  if (v !== '' && !NAME.test(v)) throw new SelectorError(`invalid label value "${v}"`);
  return v;
}

/** The kubectl string form (for logs and status). */
export function formatSelector(sel: LabelSelector): string {
  const terms = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of sel.matchExpressions ?? []) {
    if (r.operator === 'Exists') terms.push(r.key);
    else if (r.operator === 'DoesNotExist') terms.push(`!${r.key}`);
    else terms.push(`${r.key} ${r.operator === 'In' ? 'in' : 'notin'} (${(r.values ?? []).join(',')})`);
  }
  return terms.join(',');
}
