// `--listen HOST:PORT`: serves the process's metrics registry on /metrics (Prometheus text format).

import * as http from 'node:http';
import { registry } from '../metrics';

export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*)\]?:)?(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`--listen "${v}": expected [HOST:]PORT`);
  return { host: m[1] || '0.0.0.0', port };
}

export async function serveMetrics(listen: { host: string; port: number }): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return server;
}
