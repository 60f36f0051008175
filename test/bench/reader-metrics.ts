// What a benched `auditflow run` reader says on its /metrics (it runs with --listen 127.0.0.1:<port>).

/** Its auditflow_tail_bytes_read_total: how much of the log it has read; null if it did not answer. */
export async function tailBytesRead(port: number): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(/^auditflow_tail_bytes_read_total(?:\{[^}]*\})? (\d+)/gm)) n += Number(m[1]);
    return n;
  } catch {
    return null;
  }
}
