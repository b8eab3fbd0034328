/**
 * The good clients' thread (good-clients.ts starts it): runs GoodTraffic from each 'start' to
 * the next 'stop', and reports every correct answer's time as it comes and the tally at the end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GoodTraffic, type Photo, type Reference } from './good-traffic.js';
import type { FromGoodClients, GoodClientsData, ToGoodClients } from './good-clients.js';

const port = parentPort!;
const data = workerData as GoodClientsData;
// Buffers arrive as plain Uint8Arrays.
const photos: Photo[] = data.photos.map((p) => ({ name: p.name, data: Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength) }));
const refs: Map<string, Reference> = data.refs;
const send = (m: FromGoodClients) => port.postMessage(m);

let running: GoodTraffic | undefined;
port.on('message', (m: ToGoodClients) => {
  if (m.type === 'start') {
    running = new GoodTraffic(m.options, photos, refs, (ms) => send({ type: 'correct', ms }));
    running.start();
    send({ type: 'started' });
  } else {
    const traffic = running;
    if (!traffic) throw new Error('the good clients were told to stop before they started');
    running = undefined;
    void traffic.stop().then((tally) => send({ type: 'stopped', tally }));
  }
});
