// auditd writes an untrusted string (comm, exe, name, cwd, proctitle, key, …) as uppercase hex when it
// contains a space, a quote, a control byte or a byte above 0x7e; otherwise it writes it double-quoted.
// So an unquoted value of such a field that is even-length hex is an encoded string. Old kernels and some
// tools write lowercase; both are accepted.

const decoder = new TextDecoder('utf-8', { fatal: false });

export function isHexString(s: string): boolean {
  const n = s.length;
  if (n === 0 || (n & 1) === 1) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function nibble(c: number): number {
  if (c <= 0x39) return c - 0x30;
  if (c <= 0x46) return c - 0x41 + 10;
  return c - 0x61 + 10;
}

export function hexToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0, j = 0; j < out.length; i += 2, j++) {
    out[j] = (nibble(s.charCodeAt(i)) << 4) | nibble(s.charCodeAt(i + 1));
  }
  return out;
}

/**
 * Decode a hex-encoded string as UTF-8 (invalid sequences become U+FFFD). NUL bytes, which separate
 * argv entries in `proctitle`, become spaces so the result reads like a command line.
 */
export function decodeHexString(s: string): string {
  const bytes = hexToBytes(s);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--; // trailing NULs carry nothing
  for (let i = 0; i < end; i++) if (bytes[i] === 0) bytes[i] = 0x20;
  return decoder.decode(bytes.subarray(0, end));
}
