import { connect, createServer, type Socket } from 'node:net';

/**
 * What the proxy does when a client sends a simple-protocol query whose text matches:
 * - `drop-after`: forwards it to PostgreSQL, then cuts the client off, so the server executes it
 *   but the client never hears back (a COMMIT that committed without an answer);
 * - `drop-before`: cuts both sides off without forwarding it (the transaction aborts).
 */
export type PgFault = 'drop-after' | 'drop-before';

export interface PgProxy {
  /** postgres:// URL through the proxy (same credentials and database as the target). */
  url: string;
  /** Arms a fault for the next query matching `pattern` (one shot). */
  failNext(pattern: RegExp, fault: PgFault): void;
  /** Refuses new connections and cuts every open one (the database "goes down"). */
  goDown(): void;
  /** Accepts connections again. */
  comeBack(): void;
  /** How many armed faults have fired. */
  readonly fired: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of the PostgreSQL at `databaseUrl` that understands enough of
 * the wire protocol to find simple Query ('Q') messages in the client's stream (what node-postgres
 * sends for a query without parameters, such as TypeORM's COMMIT).
 */
export async function startPgProxy(databaseUrl: string): Promise<PgProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  let armed: { pattern: RegExp; fault: PgFault } | undefined;
  let fired = 0;
  let down = false;
  const server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true); // each protocol message is written on its own: Nagle would hold them back
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    upstream.on('data', (chunk) => client.write(chunk));
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.end());
    let buffered = Buffer.alloc(0);
    let started = false;
    client.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        // The startup message (and SSL request) has no type byte: length first.
        const headerSize = started ? 5 : 4;
        if (buffered.length < headerSize) return;
        const length = started ? buffered.readInt32BE(1) + 1 : buffered.readInt32BE(0);
        if (buffered.length < length) return;
        const message = buffered.subarray(0, length);
        buffered = buffered.subarray(length);
        if (!started) {
          started = message.readInt32BE(4) !== 80877103; // an SSLRequest is followed by the real startup
          upstream.write(message);
          continue;
        }
        const fault = message[0] === 0x51 ? match(message.subarray(5, -1).toString('utf8')) : undefined;
        if (fault === 'drop-before') return cut(client, upstream);
        upstream.write(message);
        if (fault === 'drop-after') return void client.destroy();
      }
    });
  });
  function match(sql: string): PgFault | undefined {
    if (!armed || !armed.pattern.test(sql)) return undefined;
    const { fault } = armed;
    armed = undefined;
    fired++;
    return fault;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    failNext: (pattern, fault) => void (armed = { pattern, fault }),
    goDown() {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    comeBack: () => void (down = false),
    get fired() {
      return fired;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function cut(client: Socket, upstream: Socket): void {
  client.destroy();
  upstream.destroy();
}
