/**
 * Issue 13, part 2: server CPU (user + system, all threads, read from /proc) per photo for
 * `npm run bench`'s photo set sent one at a time at max_size 640 over gRPC, with one worker.
 * Run it in two checkouts in turn (before / after) and compare medians.
 *   node dist/bench/server-cpu-per-photo.js [rounds]
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { startServer } from '../test/helpers/server.js';
import { benchPhotos } from './photos.js';

const rounds = Number(process.argv[2] ?? 3);
const photos = benchPhotos();
const server = await startServer({ FACEREST_WORKERS: '1' });
const client = new FaceGrpcClient(server.address);
// Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks (100 per second).
const cpuSeconds = () => {
  const fields = readFileSync(`/proc/${server.process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
try {
  await client.extract({ images: [{ data: photos[0].data }], options: { maxSize: 640 } });
  const perRound: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    let faces = 0;
    for (const p of photos) faces += (await client.extract({ images: [{ data: p.data }], options: { maxSize: 640 } })).results[0].faces.length;
    perRound.push(`${(1000 * (cpuSeconds() - cpu0) / photos.length).toFixed(1)} ms CPU, ${((performance.now() - t0) / photos.length).toFixed(1)} ms wall (${faces} faces)`);
  }
  console.log(`${photos.length} photos at max_size 640, one worker, per photo: ${perRound.join('; ')}`);
} finally {
  client.close();
  await server.stop();
}
