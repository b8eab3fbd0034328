/** Shutdown under load with long-lived streams open (item 7). */
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import { FaceGrpcClient } from '../../../clients/node/grpc-client.js';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../../../gen/grpc/health/v1/health_pb.js';
import { BBT, readFace } from '../../../test/helpers/data.js';
import type { Attack } from '../types.js';

/** Faces in bbt1..5 (../shared/faces README; test/face-counts.test.ts). */
const BBT_FACES = [4, 3, 5, 6, 5];
/** Kubernetes' default grace period is 30 s: the drain must end well before SIGKILL. */
const EXIT_WITHIN_S = 20;

export const sigtermWithStreams: Attack = {
  name: 'sigterm-with-streams-open',
  issue: '7',
  seconds: { quick: 40, full: 40 },
  stopsServer: true,
  async run(ctx) {
    const photos = BBT.map((b) => readFace(b));
    const health = createClient(Health, createGrpcTransport({ baseUrl: ctx.baseUrl }));
    const statuses: Status[] = [];
    const watching = new AbortController();
    ctx.track({ destroy: () => watching.abort() });
    let watchEnded = false;
    const watch = (async () => {
      try {
        for await (const r of health.watch({ service: '' }, { signal: watching.signal })) statuses.push(r.status);
      } catch { /* ended with the server */ }
      watchEnded = true;
    })();
    const client = ctx.track(new FaceGrpcClient(ctx.address));
    // A stream that keeps sending a photo every 200 ms for as long as it is let.
    let streamAnswers = 0;
    let streamEnd = 'still open';
    const stream = (async () => {
      async function* slow() {
        for (let i = 0; ctx.left() > 0; i++) {
          yield { id: String(i), image: { data: photos[i % photos.length] } };
          await ctx.sleep(200);
        }
      }
      try {
        for await (const r of client.extractStream(slow(), { metadata: ctx.auth })) {
          void r;
          streamAnswers++;
        }
        streamEnd = 'OK';
      } catch (err) {
        streamEnd = grpc.status[(err as grpc.ServiceError).code] ?? (err as Error).message;
      }
    })();
    await ctx.sleep(500);
    // Two photos each: 40 images, about a second of work, so all 20 are still in flight when
    // SIGTERM comes 300 ms after they were sent (and all fit the 64-image queue).
    const unary = Array.from({ length: 20 }, (_, i) => {
      const pair = [i % 5, (i + 1) % 5];
      return client.extract({ images: pair.map((k) => ({ data: photos[k] })) }, { metadata: ctx.auth }).then((res) => {
        const got = res.results.map((r) => r.faces.length);
        return got.every((n, k) => n === BBT_FACES[pair[k]]) ? 'ok' : `wrong: ${got.join(', ')} faces`;
      }, (err: grpc.ServiceError) => `${grpc.status[err.code]}: ${err.details}`);
    });
    ctx.sent(21);
    await ctx.sleep(300);
    const exited = once(ctx.server.process, 'exit');
    const signalled = Date.now();
    ctx.server.process.kill('SIGTERM');
    const exit = await Promise.race([exited, ctx.sleep(ctx.left()).then(() => undefined)]);
    const seconds = (Date.now() - signalled) / 1000;
    const answers = await Promise.race([Promise.all(unary), ctx.sleep(1000).then(() => ['unanswered'])]);
    await Promise.race([Promise.all([watch, stream]), ctx.sleep(1000)]);
    ctx.note(`exit ${exit ? `code ${exit[0]}` : 'none'} ${seconds.toFixed(1)} s after SIGTERM; stream: ${streamAnswers} answers, ended ${streamEnd}; watch saw ${statuses.map((s) => Status[s]).join(', ')}`);
    ctx.expect(exit !== undefined && exit[0] === 0, `exit code 0 after SIGTERM (got ${exit ? exit[0] : 'no exit'})`);
    ctx.expect(exit !== undefined && seconds < EXIT_WITHIN_S, `exit within ${EXIT_WITHIN_S} s of SIGTERM with a Watch and an ExtractStream open (took ${seconds.toFixed(1)} s)`);
    const bad = answers.filter((a) => a !== 'ok');
    ctx.expect(bad.length === 0, `the 20 requests in flight are answered correctly (${bad.length} not: ${bad[0] ?? ''})`);
    ctx.expect(statuses.includes(Status.NOT_SERVING) && watchEnded, `Health/Watch is told NOT_SERVING and ended (saw ${statuses.map((s) => Status[s]).join(', ')}, ${watchEnded ? 'ended' : 'still open'})`);
    ctx.expect(streamEnd !== 'still open', 'the ExtractStream is ended by the drain');
  },
};
