// Checks for text meant for a terminal: no raw control, format (bidi, zero-width), separator or lone
// surrogate character on any line; and the inverse of src/io/terminal-text.ts to compare what a table
// shows with the name it was given.
import assert from 'node:assert/strict';

/** Characters that must never reach a terminal raw (besides the newline between lines). */
export const RAW_UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** Fails when any line of `text` holds a raw unsafe character; names the line and the character. */
export function assertTerminalSafe(text: string, what: string): void {
  for (const [i, line] of text.split('\n').entries()) {
    const m = RAW_UNSAFE.exec(line);
    assert.equal(m, null, `${what}: line ${i + 1} holds raw U+${(m?.[0].codePointAt(0) ?? 0).toString(16).padStart(4, '0')}: ${JSON.stringify(line).slice(0, 300)}`);
  }
}

/** The inverse of terminalText: \\, \xHH, \uHHHH, \u{H…}. */
export function unescapeTerminal(s: string): string {
  return s.replace(/\\(\\|x([0-9a-f]{2})|u\{([0-9a-f]+)\}|u([0-9a-f]{4}))/g, (_m, all: string, x?: string, ub?: string, u?: string) =>
    all === '\\' ? '\\' : String.fromCodePoint(parseInt((x ?? ub ?? u)!, 16)),
  );
}
