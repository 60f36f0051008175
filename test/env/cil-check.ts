// A small CIL (s-expression) reader for tests: atoms, quoted strings, `;` comments, lists. Throws on
// unbalanced parentheses or an unterminated string, so a test sees exactly the structure semodule would.
export type Sexp = string | { str: string } | Sexp[];

export function readCil(text: string): Sexp[] {
  const top: Sexp[] = [];
  const stack: Sexp[][] = [top];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
    else if (c === ';') {
      const nl = text.indexOf('\n', i);
      throw new Error(`comment at ${i}: ${JSON.stringify(text.slice(i, nl < 0 ? undefined : nl))}`);
    } else if (c === '(') {
      const l: Sexp[] = [];
      stack[stack.length - 1]!.push(l);
      stack.push(l);
      i++;
    } else if (c === ')') {
      if (stack.length === 1) throw new Error(`unbalanced ")" at ${i}`);
      stack.pop();
      i++;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new Error(`unterminated string at ${i}`);
      stack[stack.length - 1]!.push({ str: text.slice(i + 1, end) });
      i = end + 1;
    } else {
      let j = i;
      while (j < text.length && !' \t\n\r();"'.includes(text[j]!)) j++;
      stack[stack.length - 1]!.push(text.slice(i, j));
      i = j;
    }
  }
  if (stack.length !== 1) throw new Error(`${stack.length - 1} unclosed "("`);
  return top;
}

export interface CilModule {
  block: string;
  inherits: string[];
  /** [target, class, perms] of each `(allow process TARGET (CLASS (PERMS…)))`. */
  allows: Array<[string, string, string[]]>;
}

/** The one block of an auditflow CIL module, checked statement by statement; throws on anything else. */
export function cilModule(text: string): CilModule {
  const top = readCil(text);
  if (top.length !== 1 || !Array.isArray(top[0])) throw new Error(`expected one (block …), got ${top.length} top-level items`);
  const [kw, name, ...body] = top[0];
  if (kw !== 'block' || typeof name !== 'string') throw new Error(`expected (block NAME …), got ${JSON.stringify(top[0]).slice(0, 200)}`);
  const m: CilModule = { block: name, inherits: [], allows: [] };
  for (const st of body) {
    if (!Array.isArray(st)) throw new Error(`stray atom in block: ${JSON.stringify(st)}`);
    if (st[0] === 'blockinherit' && st.length === 2 && typeof st[1] === 'string') m.inherits.push(st[1]);
    else if (st[0] === 'allow' && st.length === 4 && st[1] === 'process' && typeof st[2] === 'string' && Array.isArray(st[3])) {
      const cp = st[3];
      if (cp.length !== 2 || typeof cp[0] !== 'string' || !Array.isArray(cp[1]) || !cp[1].every((p) => typeof p === 'string')) {
        throw new Error(`bad class-permissions ${JSON.stringify(cp)}`);
      }
      m.allows.push([st[2], cp[0], cp[1] as string[]]);
    } else throw new Error(`unexpected statement ${JSON.stringify(st).slice(0, 200)}`);
  }
  return m;
}
