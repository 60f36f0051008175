// A small YAML writer for the plain data of Kubernetes resources (maps, lists, strings, numbers,
// booleans). Strings are always written as JSON strings, which YAML reads back verbatim, so no value can
// change meaning (no "yes"/"no", octal or multi-line surprises).

type Value = string | number | boolean | null | undefined | Value[] | { [k: string]: Value };

function scalar(v: string | number | boolean | null): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function key(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(k) ? k : JSON.stringify(k);
}

function emit(v: Value, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length > 0) {
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
  if (v !== null && typeof v === 'object') {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) continue;
      if (Array.isArray(val)) {
        if (val.length === 0) out.push(`${indent}${key(k)}: []`);
        else {
          out.push(`${indent}${key(k)}:`);
          emit(val, indent, out);
        }
      } else if (val !== null && typeof val === 'object') {
        if (Object.keys(val).length === 0) out.push(`${indent}${key(k)}: {}`);
        else {
          out.push(`${indent}${key(k)}:`);
          emit(val, indent + '  ', out);
        }
      } else out.push(`${indent}${key(k)}: ${scalar(val)}`);
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
