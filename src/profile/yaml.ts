// A small YAML writer for the plain data of Kubernetes resources (maps, lists, strings, numbers,
// booleans). Keys and strings come from audit logs (SELinux type names, syscall names, labels), so every
// scalar must read back as the same string in a YAML 1.1 reader (Go's yaml.v2, PyYAML: SPO itself and
// kubectl's ancestors) and a YAML 1.2 one (js-yaml, yaml.v3):
//   - a key is written plain only when it is on a strict allow-list (a letter or "_", then letters,
//     digits, "_", ".", "/", "-") and is not one of YAML 1.1's null/boolean words (`null`, `y`, `on`, …);
//     anything else is double-quoted;
//   - string values are always double-quoted (as before: `kind: "SeccompProfile"`);
//   - inside double quotes, `"` and `\` are escaped, and so is every character a reader could fold,
//     refuse or that a person could not see: C0/C1 controls and DEL, U+2028/U+2029 (line breaks in YAML
//     1.1, folded into spaces), format characters (bidi controls, zero-width, BOM), lone surrogates,
//     U+FFFE/U+FFFF. JSON.stringify alone does not do that (it leaves DEL, C1, NEL and U+2028 raw);
//   - keys longer than a simple key may be (1024 characters in YAML) are written as explicit `? KEY`.

type Value = string | number | boolean | null | undefined | Value[] | { [k: string]: Value };

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
// YAML 1.1's bool and null words (yaml.org/type/bool, /null), in any case: quoting a few more is harmless.
const YAML11_WORDS = new Set(['y', 'yes', 'n', 'no', 'true', 'false', 'on', 'off', 'null']);
/** Longest rendered key written as a simple `KEY:` (YAML and PyYAML allow 1024 characters). */
const MAX_SIMPLE_KEY = 1000;

const NAMED_ESCAPES: Record<string, string> = {
  '\0': '\\0',
  '\x07': '\\a',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\v': '\\v',
  '\f': '\\f',
  '\r': '\\r',
  '\x1b': '\\e',
  '"': '\\"',
  '\\': '\\\\',
};

// What must not appear raw inside a double-quoted scalar (see the header); the u flag makes a lone
// surrogate one match (\p{Cs}).
const NEEDS_ESCAPE = /["\\\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\uFFFE\uFFFF]/gu;

function escapeChar(c: string): string {
  const named = NAMED_ESCAPES[c];
  if (named) return named;
  const cp = c.codePointAt(0)!;
  if (cp < 0x100) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

/** `s` as a YAML double-quoted scalar that YAML 1.1 and 1.2 readers read back as exactly `s`. */
export function quoteYaml(s: string): string {
  return '"' + s.replace(NEEDS_ESCAPE, escapeChar) + '"';
}

/** A number both YAML 1.1 (which wants a "." in a float) and 1.2 read back as the same number. */
function number(v: number): string {
  if (Number.isNaN(v)) return '.nan';
  if (v === Infinity) return '.inf';
  if (v === -Infinity) return '-.inf';
  const s = String(v);
  if (!/[e.]/.test(s)) return s; // an integer: digits only
  const [mant, exp] = s.split('e') as [string, string | undefined];
  return (mant.includes('.') ? mant : mant + '.0') + (exp === undefined ? '' : 'e' + exp);
}

function scalar(v: string | number | boolean | null): string {
  if (typeof v === 'string') return quoteYaml(v);
  if (typeof v === 'number') return number(v);
  return String(v);
}

function key(k: string): string {
  return PLAIN_KEY.test(k) && !YAML11_WORDS.has(k.toLowerCase()) ? k : quoteYaml(k);
}

function isMap(v: Value): v is { [k: string]: Value } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function emit(v: Value, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isMap(item) && Object.keys(item).length > 0) {
        const sub: string[] = [];
        emit(item, indent + '  ', sub);
        out.push(indent + '- ' + sub[0]!.trimStart(), ...sub.slice(1));
      } else if (Array.isArray(item) || (item !== null && typeof item === 'object')) {
        out.push(indent + '- ' + (Array.isArray(item) && item.length === 0 ? '[]' : '{}'));
        if (Array.isArray(item) && item.length) emit(item, indent + '  ', out);
      } else if (item !== undefined) out.push(indent + '- ' + scalar(item));
    }
    return;
  }
  if (isMap(v)) {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) continue;
      const kk = key(k);
      // a long key is an explicit one: `? KEY` on its line, the value after `:` on the next
      const explicit = kk.length > MAX_SIMPLE_KEY;
      if (explicit) out.push(`${indent}? ${kk}`);
      const head = explicit ? `${indent}:` : `${indent}${kk}:`;
      if (Array.isArray(val)) {
        if (val.length === 0) out.push(`${head} []`);
        else {
          out.push(head);
          emit(val, explicit ? indent + '  ' : indent, out);
        }
      } else if (isMap(val)) {
        if (Object.keys(val).length === 0) out.push(`${head} {}`);
        else {
          out.push(head);
          emit(val, indent + '  ', out);
        }
      } else out.push(`${head} ${scalar(val)}`);
    }
    return;
  }
  if (v !== undefined) out.push(indent + scalar(v));
}

export function toYaml(doc: unknown): string {
  const out: string[] = [];
  emit(doc as Value, '', out);
  return out.join('\n') + '\n';
}
