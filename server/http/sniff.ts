/**
 * Which protocol a cleartext connection speaks, from its first bytes: HTTP/2 with prior
 * knowledge always opens with the "PRI * HTTP/2.0" preface, which no HTTP/1 request can. The
 * first read may hold a single byte ("P" is also POST's), so bytes are gathered until they
 * decide; whatever was read is put back for the server that takes the connection.
 */
import type net from 'node:net';

export type Sniffed = 'http1' | 'http2' | 'none';

const PREFACE = Buffer.from('PRI');

/** What the bytes so far say, or undefined while they could still be either. */
function decide(head: Buffer): Exclude<Sniffed, 'none'> | undefined {
  const n = Math.min(head.length, PREFACE.length);
  if (!head.subarray(0, n).equals(PREFACE.subarray(0, n))) return 'http1';
  return n === PREFACE.length ? 'http2' : undefined;
}

/**
 * Resolves once the protocol is known. 'none': the connection closed or sent nothing before the
 * deadline. Bytes that arrive and still do not decide by then go to HTTP/1.1, whose own header
 * deadline answers them.
 */
export function sniff(socket: net.Socket, deadlineMs: number): Promise<Sniffed> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let decided = false;
    const finish = (result: Sniffed) => {
      if (decided) return;
      decided = true;
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      if (size > 0 && result !== 'none') socket.unshift(Buffer.concat(chunks, size));
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const result = decide(chunks.length === 1 ? chunk : Buffer.concat(chunks, size));
      if (result) finish(result);
    };
    const onEnd = () => finish(size > 0 ? 'http1' : 'none');
    const onClose = () => finish('none');
    // Decided after the next poll has read what came (listener.ts's sweep says why).
    const timer = setTimeout(() => setImmediate(() => finish(size > 0 ? 'http1' : 'none')), deadlineMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
  });
}
