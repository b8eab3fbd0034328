/**
 * ExtractStream at scale: 5,000 images through one stream with flat server memory, and a
 * client that stops reading does not make the server buffer its images.
 */
import { create, toBinary, fromBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { ExtractStreamRequestSchema, ExtractStreamResponseSchema } from '../gen/facerest/v1/face_service_pb.js';
import { BBT, readFace } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

const COUNT = 5000;
// Peak server memory may grow this much over its warmed-up size while the stream runs. The
// images sent total about 380 MB, so holding the stream would exceed it. Measured here over
// seven runs: +54 to +153 MB for the 5,000 images (worker heaps and allocator arenas settling
// early in the stream), +4 to +18 MB for the unread stream (both printed below).
const RSS_GROWTH_MB = 250;
// Measured growth of the peak between the middle and the end of the stream: 4 to 22 MB, for
// about 190 MB of images sent in that half.
const SECOND_HALF_MB = 50;

function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

describe('ExtractStream at scale', () => {
  let server: TestServer;
  let client: FaceGrpcClient;
  let photo: Buffer;
  let facesInPhoto: number;
  before(async () => {
    server = await startServer();
    client = new FaceGrpcClient(server.address);
    photo = await sharp(readFace(BBT[1])).resize(640, 480, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
    facesInPhoto = (await client.extract({ images: [{ data: photo }] })).results[0].faces.length;
    // Warm up allocations so the baseline is the server's working size.
    for await (const _ of client.extractStream(Array.from({ length: 50 }, (_, i) => ({ id: String(i), image: { data: photo } })))) { /* drain */ }
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  it(`streams ${COUNT} images with flat memory`, async () => {
    const pid = server.process.pid!;
    const before = memoryMb(pid);
    function* requests() {
      for (let i = 0; i < COUNT; i++) yield { id: String(i), image: { data: photo }, options: { skipEmbedding: true } };
    }
    const seen = new Set<string>();
    let wrong = 0;
    let halfway = 0;
    for await (const res of client.extractStream(requests())) {
      seen.add(res.id);
      if (res.result!.faces.length !== facesInPhoto) wrong++;
      if (seen.size === COUNT / 2) halfway = memoryMb(pid).peak;
    }
    const end = memoryMb(pid).peak;
    const growth = end - before.rss;
    console.log(`# ${COUNT} images (${(COUNT * photo.length / 1e6).toFixed(0)} MB sent): server RSS ${before.rss.toFixed(0)} MB before, `
      + `peak ${halfway.toFixed(0)} MB halfway, ${end.toFixed(0)} MB at the end (+${growth.toFixed(0)} MB)`);
    assert.equal(seen.size, COUNT);
    assert.ok(facesInPhoto > 0);
    assert.equal(wrong, 0, 'every answer has the faces of the photo');
    assert.ok(growth < RSS_GROWTH_MB, `server memory grew ${growth.toFixed(0)} MB`);
    // Flat: the second half of the stream adds (almost) nothing to the peak of the first.
    assert.ok(end - halfway < SECOND_HALF_MB, `the peak grew ${(end - halfway).toFixed(0)} MB in the second half`);
  });

  it('a client that stops reading holds the server back instead of filling its memory', async () => {
    const pid = server.process.pid!;
    const before = memoryMb(pid);
    const raw = new grpc.Client(server.address, grpc.credentials.createInsecure());
    const call = raw.makeBidiStreamRequest('/facerest.v1.FaceService/ExtractStream',
      (m: unknown) => Buffer.from(toBinary(ExtractStreamRequestSchema, m as never)),
      (b: Buffer) => fromBinary(ExtractStreamResponseSchema, b));
    call.pause(); // never read an answer
    call.on('error', () => undefined);
    // Queue 2,000 images (about 100 MB) at once, ignoring backpressure on purpose.
    for (let i = 0; i < 2000; i++) call.write(create(ExtractStreamRequestSchema, { id: String(i), image: { data: photo } }));
    let highest = before.rss;
    for (let t = 0; t < 20; t++) {
      await new Promise((r) => setTimeout(r, 200));
      highest = Math.max(highest, memoryMb(pid).rss);
    }
    call.cancel();
    raw.close();
    const growth = highest - before.rss;
    console.log(`# unread stream, 2000 images queued by the client: server RSS at most +${growth.toFixed(0)} MB over 4 s`);
    assert.ok(growth < RSS_GROWTH_MB, `server memory grew ${growth.toFixed(0)} MB`);
    // And it still serves others.
    const res = await client.extract({ images: [{ data: photo }] });
    assert.ok(res.results[0].faces.length > 0);
  });
});
