// What a benched `auditflow run` reader says on its /metrics (it runs with --listen 127.0.0.1:<port>).

/** Its auditflow_tail_bytes_read_total: how much of the log it has read; null if it did not answer. */
export function tailBytesRead(port: number): Promise<number | null> {
  return counterSum(port, 'auditflow_tail_bytes_read_total');
}

/** The records a reader has parsed (every type), as its pipeline counts them: null if it cannot say. */
export function recordsParsed(port: number): Promise<number | null> {
  return counterSum(port, 'auditflow_records_parsed_total');
}

async function counterSum(port: number, name: string): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))) n += Number(m[1]);
    return n;
  } catch {
    return null;
  }
}
