/**
 * Identification on real photos with the default pack, through the real server: enrol one
 * photo of each known identity, identify every other photo (its largest face), at the
 * recognizer's measured threshold. Known people must come back first (rank-1), unknown people
 * must come back unknown. The figures are printed; the README quotes them.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Face } from '../gen/facerest/v1/face_service_pb.js';
import { GalleryService } from '../gen/facerest/v1/gallery_service_pb.js';
import { readCsv, readShared } from './helpers/data.js';
import { serverWithClient } from './helpers/server.js';

const G = GalleryService.method;
/** The issue's bars: rank-1 on known people, and unknown people left unknown. */
const RANK1_MIN = 0.95;
const UNKNOWN_MIN = 0.9;

interface Photo { file: string; identity: string }

const area = (f?: Face) => (f?.box ? (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1) : -1);

const SETS: { name: string; dir: string[]; csv: string[]; unknown: string[] }[] = [
  { name: 'face-api.js (8 people, 5 photos each)', dir: ['face-api.js'], csv: ['face-api.js', 'identities.csv'], unknown: ['sheldon', 'stuart'] },
  { name: 'deepface (13 people, 2 to 8 photos each)', dir: ['deepface'], csv: ['deepface', 'identities.csv'], unknown: ['deepface_id12', 'deepface_id13'] },
];

describe('gallery accuracy on ../shared/faces', () => {
  const fx = serverWithClient();

  for (const set of SETS) {
    const photos: Photo[] = readCsv('faces', ...set.csv).map((r) => ({ file: r.file, identity: r.identity }));
    const byIdentity = new Map<string, Photo[]>();
    for (const p of photos) byIdentity.set(p.identity, [...(byIdentity.get(p.identity) ?? []), p]);
    const collection = set.dir[0].replace(/[^A-Za-z0-9]/g, '');

    describe(set.name, () => {
      const enrolled = new Set<string>();
      before(async () => {
        await fx.client.call(G.createCollection, { name: collection });
        for (const [identity, list] of byIdentity) {
          if (set.unknown.includes(identity)) continue;
          const res = await fx.client.call(G.enroll, {
            collection, subject: identity, images: [{ data: readShared('faces', ...set.dir, list[0].file) }], largestFace: true,
          });
          assert.equal(res.faceIds.length, 1, `${list[0].file} enrolled: ${res.results[0].error?.message}`);
          enrolled.add(list[0].file);
        }
      });

      it(`rank-1 >= ${RANK1_MIN * 100}% on the known, unknown left unknown for >= ${UNKNOWN_MIN * 100}%`, async () => {
        let known = 0, knownRight = 0, unknown = 0, unknownRight = 0;
        const misses: string[] = [];
        const queries = photos.filter((p) => !enrolled.has(p.file));
        for (let at = 0; at < queries.length; at += 8) {
          const batch = queries.slice(at, at + 8);
          const res = await fx.client.call(G.identify, {
            collection, images: batch.map((p) => ({ data: readShared('faces', ...set.dir, p.file) })),
          });
          res.results.forEach((r, i) => {
            const p = batch[i];
            const face = r.faces.reduce<(typeof r.faces)[number] | undefined>((a, b) => (area(b.face) > area(a?.face) ? b : a), undefined);
            const best = face?.matches[0]?.subject;
            if (set.unknown.includes(p.identity)) {
              unknown++;
              if (!best) unknownRight++;
              else misses.push(`${p.file} (unknown) -> ${best} ${face!.matches[0].score.toFixed(3)}`);
            } else {
              known++;
              if (best === p.identity) knownRight++;
              else misses.push(`${p.file} (${p.identity}) -> ${best ?? (face ? 'unknown' : 'no face')}`);
            }
          });
          assert.ok(res.threshold > 0);
        }
        console.log(`# ${set.name}: rank-1 ${knownRight}/${known} (${(100 * knownRight / known).toFixed(1)}%), `
          + `unknown left unknown ${unknownRight}/${unknown} (${(100 * unknownRight / unknown).toFixed(1)}%)`
          + `${misses.length ? `; misses: ${misses.join('; ')}` : ''}`);
        assert.ok(knownRight / known >= RANK1_MIN, `rank-1 ${knownRight}/${known}`);
        assert.ok(unknownRight / unknown >= UNKNOWN_MIN, `unknown ${unknownRight}/${unknown}`);
      });
    });
  }
});
