// Loopback ports for the servers the tests start (Kafka, the components' HTTP endpoints).
import * as net from 'node:net';

/** A free loopback TCP port (the kernel picks it; there is a small window before the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
