// A socket that serves a real containerd's CRI (runtime.v1) and nothing else: what CRI-O looks like to auditflow
// (CRI, GetContainerEvents included, but no containerd.services.* such as the task event stream). A plain HTTP/2
// relay in front of containerd's socket: runtime.v1 calls go through byte for byte (streams, trailers and
// errors included), every other service is answered UNIMPLEMENTED like a gRPC server that lacks it.
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';

export interface CriOnlySocket {
  path: string;
  close(): Promise<void>;
}

const HOP = new Set([':method', ':path', ':scheme', ':authority', ':status', 'connection', 'host']);

function plain(h: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (!HOP.has(k) && v !== undefined) out[k] = v;
  return out;
}

export async function criOnlySocket(upstreamPath: string, socketPath: string): Promise<CriOnlySocket> {
  fs.rmSync(socketPath, { force: true });
  const upstream = http2.connect('http://localhost', { createConnection: () => net.connect(upstreamPath) });
  upstream.on('error', () => undefined);
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const p = String(headers[':path'] ?? '');
    if (!p.startsWith('/runtime.v1.RuntimeService/')) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': `unknown service ${p.split('/')[1]}` }, { endStream: true });
      return;
    }
    const req = upstream.request({ ':method': 'POST', ':path': p, ...plain(headers) });
    req.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.pipe(req);
    let trailers: http2.OutgoingHttpHeaders | undefined;
    req.on('trailers', (t) => (trailers = plain(t)));
    req.on('response', (h, flags) => {
      // a trailers-only answer (an error at once) ends the stream with its headers
      if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM || h['grpc-status'] !== undefined) {
        stream.respond({ ':status': 200, ...plain(h) }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, ...plain(h) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers ?? { 'grpc-status': '13', 'grpc-message': 'upstream ended without trailers' }));
      req.pipe(stream);
    });
    stream.on('close', () => {
      if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    path: socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // open streams (a subscriber's) would hold the server: end their sessions
        for (const s of sessions) s.destroy();
        upstream.destroy();
        fs.rmSync(socketPath, { force: true });
      }),
  };
}
