// The client's Bearer token flow (WWW-Authenticate: Bearer realm=…,service=…,scope=…), which the rig registry
// (htpasswd, Basic) does not use: an in-process token-auth front that forwards to the rig registry, as a registry
// behind a token service (Docker Hub, GHCR, Harbor) answers (plain HTTP here: TLS is covered with the rig registry). The token endpoint takes the user's Basic credentials
// and issues a token per scope; the front accepts only that token. Push and pull go through it end to end.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { RegistryEnv } from '../env/registry';
import { pullProfile, pushProfiles } from '../../src/oci/registry-ops';
import { registry, scratch, uniqueRepo } from './setup';

let reg: RegistryEnv;
let server: http.Server;
let front: string;
let tmp: string;
const tokens = new Map<string, string>(); // token -> scope
const scopesAsked: string[] = [];

before(async () => {
  reg = registry();
  tmp = scratch('bearer');
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/token') {
      const basic = Buffer.from(String(req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      if (basic !== 'alice:wonderland') {
        res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        return;
      }
      const scope = url.searchParams.get('scope') ?? '';
      scopesAsked.push(scope);
      const t = randomBytes(16).toString('hex');
      tokens.set(t, scope);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: t }));
      return;
    }
    const m = /^\/v2\/(.+?)\/(manifests|blobs)\//.exec(url.pathname);
    const t = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const need = m ? `repository:${m[1]}:${req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push'}` : '';
    const scope = tokens.get(t);
    if (!scope || !m || !scope.startsWith(`repository:${m[1]}:`) || !scope.split(':')[2]!.split(',').includes(need.split(':')[2]!)) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${front}/token",service="test-registry",scope="${need || 'registry:catalog:*'}"` }).end();
      return;
    }
    // forward to the rig registry with its own credentials
    const body: Buffer[] = [];
    req.on('data', (b: Buffer) => body.push(b));
    req.on('end', () => {
      const https = require('node:https') as typeof import('node:https');
      const up = https.request(
        { host: '127.0.0.1', port: Number(reg.address.split(':')[1]), path: req.url, method: req.method, ca: fs.readFileSync(reg.ca), headers: { ...req.headers, host: reg.address, authorization: 'Basic ' + Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } },
        (r) => {
          const headers = { ...r.headers };
          if (headers.location) headers.location = headers.location.replace(`https://${reg.address}`, `http://${front}`);
          res.writeHead(r.statusCode!, headers);
          r.pipe(res);
        },
      );
      up.on('error', (e) => res.writeHead(502).end(e.message));
      up.end(Buffer.concat(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  front = `127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => {
  server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Bearer token auth', () => {
  it('push and pull through a token-auth registry: tokens fetched from the realm with Basic credentials, per scope', async () => {
    const repo = uniqueRepo('bearer');
    const content = Buffer.from('{"defaultAction":"SCMP_ACT_LOG"}');
    const pushed = await pushProfiles({ reference: `${front}/${repo}:v1`, files: [{ content, name: 'p.json' }], client: { plainHttp: true, credentials: { username: 'alice', password: 'wonderland' } } });
    assert.match(pushed.digest, /^sha256:/);
    const pulled = await pullProfile({ reference: `${front}/${repo}:v1`, requireSignature: false, client: { plainHttp: true, credentials: { username: 'alice', password: 'wonderland' } } });
    assert.ok(pulled.content.equals(content));
    // the client asks the token endpoint for the scope each challenge names
    assert.ok(scopesAsked.includes(`repository:${repo}:push`), `a push token was fetched: ${scopesAsked.join(' ')}`);
    assert.ok(scopesAsked.includes(`repository:${repo}:pull`), 'a pull token was fetched');
  });

  it('wrong credentials at the token endpoint are refused with the reason', async () => {
    await assert.rejects(
      pullProfile({ reference: `${front}/${uniqueRepo('bearer')}:v1`, requireSignature: false, client: { plainHttp: true, credentials: { username: 'alice', password: 'nope' } } }),
      /token endpoint .* answered 401/,
    );
  });
});
