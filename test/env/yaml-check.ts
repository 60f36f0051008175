// Reading YAML back as the consumers of our profiles do: js-yaml (YAML 1.2) in process, and PyYAML (YAML
// 1.1, like Go's yaml.v2 that SPO uses) through python3. A scalar that one of them reads as null, a
// boolean, a number or a date instead of the string written is reported as `!!<type>:<repr>`, so a
// deepEqual against the expected plain-string document catches it (json.dumps alone would turn a None key
// back into "null" and hide the bug).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { load } from 'js-yaml';

const PY = `
import sys, json
try:
    import yaml
except ImportError:
    sys.stderr.write("PyYAML is not installed: install python3-yaml (bash test/env/packages.sh python3-yaml)\\n")
    sys.exit(3)
def walk(v):
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else "!!%s:%r" % (type(k).__name__, k)): walk(x) for k, x in v.items()}
    if isinstance(v, list):
        return [walk(x) for x in v]
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    return "!!%s:%r" % (type(v).__name__, v)
out = []
for p in sys.argv[1:]:
    with open(p, "rb") as f:
        try:
            out.append({"ok": walk(yaml.load(f, Loader=yaml.SafeLoader))})
        except yaml.YAMLError as e:
            out.append({"error": str(e)})
json.dump(out, sys.stdout)
`;

export type PyResult = { ok: unknown } | { error: string };

/** Loads each text with PyYAML's SafeLoader (one python3 run for all); throws when PyYAML is missing. */
export function pyYamlLoad(texts: string[]): PyResult[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-yaml-'));
  try {
    const files = texts.map((t, i) => {
      const f = path.join(dir, `${i}.yaml`);
      fs.writeFileSync(f, t);
      return f;
    });
    const r = spawnSync('python3', ['-c', PY, ...files], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.error) throw new Error(`python3 is needed to read YAML with PyYAML (apt-get install python3-yaml): ${r.error.message}`);
    if (r.status !== 0) throw new Error(`python3/PyYAML failed (exit ${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as PyResult[];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** js-yaml (YAML 1.2 core schema), with the same tagging of non-string keys (none in JS: keys are strings). */
export function jsYamlLoad(text: string): unknown {
  return load(text);
}
