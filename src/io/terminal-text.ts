// The one escaping function for text shown to people (tables, summaries, explain, progress and status
// lines, messages on stderr). Names in the audit stream (comm, exe, paths, AppArmor profiles, SELinux
// types) are written by workloads: raw, an ESC or OSC sequence retitles or clears the terminal, a bidi
// override (U+202E) shows "exe.txt" for "txt.exe", U+2028 or a C1 control starts a new line on some
// terminals, zero-width characters make two names look alike. So every character that is not plainly
// visible is shown as an escape instead:
//   - C0 controls, DEL and C1 controls (U+0080–U+009F)   → \x1b, \x7f, \x9b  (\t, \n and \r as \x09 …)
//   - format characters (\p{Cf}: bidi controls U+061C, U+200E/F, U+202A–202E, U+2066–2069, zero-width
//     U+200B–200D, U+2060, BOM U+FEFF, soft hyphen …), U+2028/U+2029, lone surrogates → \u202e, \u{e0001}
//   - the backslash itself → \\, so an escape in the output always means an escaped character and a name
//     cannot imitate one ("\x1b" typed as four characters reads "\\x1b").
// Plain text (ASCII, letters of any script, emoji) passes unchanged. Readers can undo it exactly
// (test/env/terminal-check.ts), so no information is lost.

const UNSAFE = /[\\\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

function escapeChar(c: string): string {
  if (c === '\\') return '\\\\';
  const cp = c.codePointAt(0)!;
  if (cp < 0x100) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\u{' + cp.toString(16) + '}';
}

/** `s` with every control, format, separator and backslash character escaped visibly (see above). */
export function terminalText(s: string): string {
  return UNSAFE.test(s) ? s.replace(UNSAFE_ALL, escapeChar) : s;
}
