// The runner's optional metrics port: GET /metrics answers the Prometheus text format, anything
// else 404. A thin node:http shell over whatever renders the text (runner-metrics.ts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

export class MetricsServer {
  readonly #server: Server;
  /** Where Prometheus scrapes: http://host:port/metrics (the port the OS chose, for port 0). */
  readonly url: string;

  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  /** Listens on host:port (0: the OS chooses); rejects when it cannot (the port is taken, …). */
  static listen(host: string, port: number, metrics: MetricsSource): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
        return;
      }
      metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: unknown) =>
          res
            .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
            .end(`collecting the metrics failed: ${(err as Error).message}\n`),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', (err) =>
        reject(new Error(`cannot serve metrics on ${host}:${port}: ${err.message}`)),
      );
      server.listen(port, host, () => {
        const { port: bound } = server.address() as AddressInfo;
        const name = host.includes(':') ? `[${host}]` : host;
        resolve(new MetricsServer(server, `http://${name}:${bound}/metrics`));
      });
    });
  }

  /** Stops listening and drops open connections (Prometheus keeps its own alive). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
