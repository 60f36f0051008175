// SELinux records: AVC (1400) and USER_AVC (1107) decisions, SELINUX_ERR (1401).
//
//   avc:  denied  { read write } for  pid=1 comm="x" name="y" scontext=u:r:t:s0 tcontext=… tclass=file permissive=0
//
// The permission list is the only part not in key=value form; everything after `for` is tokenized like
// any other record, so contexts come from their exact keys.

import type { Fields } from './fields';
import type { AvcInfo, SelinuxContext, SelinuxErrInfo } from './types';

const isBlank = (c: number) => c === 0x20 || c === 0xa0 || c === 0xfffd;

/** Split `user:role:type[:level]`; the level keeps its MCS/MLS range and categories (`s0-s0:c0.c1023`). */
export function splitContext(ctx: string | undefined): SelinuxContext | undefined {
  if (!ctx) return undefined;
  const a = ctx.indexOf(':');
  if (a === -1) return undefined;
  const b = ctx.indexOf(':', a + 1);
  if (b === -1) return undefined;
  const c = ctx.indexOf(':', b + 1);
  return {
    user: ctx.slice(0, a),
    role: ctx.slice(a + 1, b),
    type: c === -1 ? ctx.slice(b + 1) : ctx.slice(b + 1, c),
    level: c === -1 ? undefined : ctx.slice(c + 1),
  };
}

/**
 * Parse an `avc:` message in `text[start, end)` whose key=value part was tokenized into `fields`. Returns
 * undefined for avc lines that are not decisions (`avc:  received setenforce notice`, `avc:  policy loaded`).
 */
export function parseAvc(text: string, start: number, end: number, fields: Fields): AvcInfo | undefined {
  let i = text.indexOf('avc:', start);
  if (i === -1 || i >= end) return undefined;
  i += 4;
  while (i < end && isBlank(text.charCodeAt(i))) i++;
  let decision: 'denied' | 'granted';
  if (text.startsWith('denied', i)) decision = 'denied';
  else if (text.startsWith('granted', i)) decision = 'granted';
  else return undefined;
  const open = text.indexOf('{', i);
  const close = open === -1 ? -1 : text.indexOf('}', open);
  if (open === -1 || close === -1 || close >= end) return undefined;
  const permissions = text.slice(open + 1, close).split(/[ \u00a0\ufffd]+/).filter((p) => p.length > 0);
  const scontext = fields.get('scontext');
  const tcontext = fields.get('tcontext');
  const permissive = fields.get('permissive');
  return {
    decision,
    permissions,
    scontext,
    tcontext,
    tclass: fields.get('tclass'),
    permissive: permissive === undefined ? undefined : permissive === '1',
    source: splitContext(scontext),
    target: splitContext(tcontext),
  };
}

export function selinuxErrInfo(f: Fields): SelinuxErrInfo {
  let reason = f.get('seresult');
  if (reason === undefined) {
    if (f.has('invalid_context')) reason = 'invalid_context';
    else if (f.has('reason')) reason = f.get('reason');
  }
  return {
    op: f.get('op'),
    reason,
    scontext: f.get('scontext') ?? f.get('oldcontext'),
    tcontext: f.get('tcontext') ?? f.get('newcontext'),
    tclass: f.get('tclass'),
  };
}
