import { createServer, connect, type Socket } from 'node:net';

/**
 * What the proxy does to one request:
 * - `reset`: forward `afterBytes` bytes of it, then reset both connections (TCP RST);
 * - `status`: answer it with an S3-style error of this HTTP status (or `body`) instead of forwarding it;
 * - `corrupt`: forward it with one body byte flipped (the first, or the one at offset `atByte` of the body);
 * - `hang`: accept it and never answer (nothing reaches the server);
 * - `stall`: forward `afterBytes` bytes of it (head included), then nothing more, and never answer;
 * - `stallResponse`: forward it, then pass the answer's head and `afterBytes` bytes of its body, and nothing more;
 * - `mute`: forward it (the server acts on it) and never pass the answer back.
 * A hung or stalled connection stays open until the client gives up or the proxy closes.
 */
export type Fault =
  | { kind: 'reset'; afterBytes: number }
  | { kind: 'status'; status: number; body?: string }
  | { kind: 'corrupt'; atByte?: number }
  | { kind: 'hang' }
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'stallResponse'; afterBytes: number }
  | { kind: 'mute' };

/** Picks the fault for a request from its head (request line and headers), or undefined to pass it through. */
export type FaultRule = (head: string) => Fault | undefined;

export interface FaultProxy {
  /** http://127.0.0.1:<port>, to use as the S3 endpoint. */
  endpoint: string;
  /** Requests the rule has faulted so far. */
  faulted: string[];
  close(): Promise<void>;
}

const REQUEST_LINE = /^(GET|PUT|POST|DELETE|HEAD) (\S+) HTTP\/1\.1\r\n/;

/**
 * A TCP proxy on 127.0.0.1 in front of `target` that follows HTTP/1.1 request boundaries well enough
 * for the AWS SDK (one request at a time per connection, each head at the start of a write).
 */
export async function startFaultProxy(target: string, rule: FaultRule): Promise<FaultProxy> {
  const upstreamUrl = new URL(target);
  const faulted: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(upstreamUrl.port || 80), upstreamUrl.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    let fault: Fault | undefined;
    let forwarded = 0;
    let bodyStart = -1;
    // corrupt: body bytes of the current request already forwarded.
    let bodySeen = 0;
    // stallResponse: how many more answer bytes may pass (undefined: no limit), counted once the head has passed.
    let answerBudget: number | undefined;
    let answerHead = '';
    let muted = false;
    upstream.on('data', (chunk: Buffer) => {
      if (muted) return;
      if (answerBudget === undefined) return void client.write(chunk);
      let body = chunk;
      if (answerHead !== '\r\n\r\n') {
        const text = answerHead + chunk.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) {
          answerHead = text.slice(-3);
          return void client.write(chunk);
        }
        const headBytes = end + 4 - answerHead.length;
        client.write(chunk.subarray(0, headBytes));
        answerHead = '\r\n\r\n';
        body = chunk.subarray(headBytes);
      }
      const passed = body.subarray(0, answerBudget);
      answerBudget -= passed.length;
      if (passed.length > 0) client.write(passed);
    });
    upstream.on('end', () => void (answerBudget === undefined && !muted && client.end()));
    client.on('end', () => upstream.end());
    client.on('data', (chunk: Buffer) => {
      const line = REQUEST_LINE.exec(chunk.subarray(0, 4096).toString('latin1'));
      if (line) {
        const headEnd = chunk.indexOf('\r\n\r\n');
        fault = rule(chunk.subarray(0, headEnd < 0 ? chunk.length : headEnd).toString('latin1'));
        if (fault) faulted.push(`${fault.kind} ${line[1]} ${line[2]}`);
        forwarded = 0;
        bodySeen = 0;
        bodyStart = headEnd < 0 ? -1 : headEnd + 4;
        if (fault?.kind === 'stallResponse') {
          answerBudget = fault.afterBytes;
          answerHead = '';
        }
        if (fault?.kind === 'mute') muted = true;
      }
      apply(chunk);
    });
    function apply(chunk: Buffer): void {
      if (fault?.kind === 'hang') return;
      if (fault?.kind === 'stall') {
        const passed = chunk.subarray(0, Math.max(0, fault.afterBytes - forwarded));
        forwarded += passed.length;
        if (passed.length > 0) upstream.write(passed);
        return;
      }
      if (fault?.kind === 'status') return answer(client, upstream, fault.status, fault.body);
      if (fault?.kind === 'corrupt') {
        const offset = bodyStart >= 0 ? bodyStart : 0; // where this chunk's body bytes begin
        const at = offset + (fault.atByte ?? 0) - bodySeen;
        if (at >= offset && at < chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[at] = chunk[at]! ^ 0xff;
          fault = undefined;
        } else {
          bodySeen += Math.max(0, chunk.length - offset);
        }
        bodyStart = -1;
      }
      if (fault?.kind === 'reset' && forwarded + chunk.length > fault.afterBytes) {
        upstream.write(chunk.subarray(0, Math.max(0, fault.afterBytes - forwarded)));
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        return;
      }
      forwarded += chunk.length;
      upstream.write(chunk);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    faulted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Answers the current request with an S3 error body and closes; the rest of its body is ignored. */
function answer(client: Socket, upstream: Socket, status: number, given?: string): void {
  if (client.writableEnded) return;
  upstream.destroy();
  const body = given ?? `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>`;
  client.end(`HTTP/1.1 ${status} Injected\r\ncontent-type: application/xml\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
}
