/**
 * Only the formats the README names are decoded (JPEG, PNG, WebP, GIF, TIFF, AVIF), told from
 * the file's first bytes before sharp sees it and confirmed by what sharp reports. Everything
 * else fails alone with "unsupported format": SVG above all (sharp renders it with librsvg; a
 * 2 KB <use> bomb took seconds of CPU), and HEIC, JPEG XL, PDF, BMP, PPM.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage } from '../server/pipeline/decode.js';
import { checkImageFormat, sniffImageFormat } from '../server/pipeline/image-format.js';
import { BBT, readFace } from './helpers/data.js';
import { base64, postExtract } from './helpers/legacy.js';
import { serverWithClient } from './helpers/server.js';
import { ImageErrorCode } from '../gen/facerest/v1/face_service_pb.js';

const jpeg = readFace(BBT[1]); // 3 faces

const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#888"/></svg>';

/** Each level draws the one below ten times: 10^7 rectangles from about 2 KB. */
function useBomb(levels = 7): string {
  let defs = '<rect id="l0" width="1" height="1"/>';
  for (let i = 1; i <= levels; i++) {
    defs += `<g id="l${i}">${Array.from({ length: 10 }, () => `<use href="#l${i - 1}"/>`).join('')}</g>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="1000"><defs>${defs}</defs><use href="#l${levels}"/></svg>`;
}

/** An ISO-BMFF file type box with these brands. */
function ftyp(major: string, ...compatible: string[]): Buffer {
  const body = Buffer.concat([Buffer.from(major), Buffer.alloc(4), ...compatible.map((b) => Buffer.from(b))]);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write('ftyp', 4);
  return Buffer.concat([head, body, Buffer.alloc(64)]);
}

const REFUSED: [string, () => Buffer][] = [
  ['SVG', () => Buffer.from(SVG)],
  ['SVG <use> bomb', () => Buffer.from(useBomb())],
  ['SVG after an XML declaration and a BOM', () => Buffer.from(`\ufeff<?xml version="1.0"?>\n${SVG}`)],
  ['gzipped SVG (svgz)', () => gzipSync(SVG)],
  ['HEIC (ftyp heic)', () => ftyp('heic', 'mif1', 'heic')],
  ['HEIF (ftyp mif1, heic)', () => ftyp('mif1', 'heic')],
  ['JPEG XL codestream', () => Buffer.concat([Buffer.from([0xff, 0x0a]), Buffer.alloc(64)])],
  ['JPEG XL container', () => Buffer.concat([Buffer.from('0000000c4a584c200d0a870a', 'hex'), Buffer.alloc(64)])],
  ['PDF', () => Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n')],
  ['BMP', () => Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)])],
  ['PPM', () => Buffer.concat([Buffer.from('P6\n4 4\n255\n'), Buffer.alloc(48, 128)])],
  ['text', () => Buffer.from('name,identity\nimg1.jpg,someone\n')],
];

describe('image format allowlist: the sniffer', () => {
  it('names every accepted format from the bytes sharp writes', async () => {
    const made: [string, Buffer][] = [
      ['jpeg', jpeg],
      ['png', await sharp(jpeg).png().toBuffer()],
      ['webp', await sharp(jpeg).webp().toBuffer()],
      ['gif', await sharp(jpeg).gif().toBuffer()],
      ['tiff', await sharp(jpeg).tiff().toBuffer()],
      ['avif', await sharp(jpeg).resize(64).avif().toBuffer()],
    ];
    for (const [format, data] of made) assert.equal(sniffImageFormat(data), format);
  });

  it('knows the other byte orders and brands: big-endian and BigTIFF, GIF87a, AVIF sequences', () => {
    assert.equal(sniffImageFormat(Buffer.from('MM\0*\0\0\0\x08', 'latin1')), 'tiff');
    assert.equal(sniffImageFormat(Buffer.from('II+\0\x08\0\0\0', 'latin1')), 'tiff');
    assert.equal(sniffImageFormat(Buffer.from('GIF87a\x01\0\x01\0', 'latin1')), 'gif');
    assert.equal(sniffImageFormat(ftyp('avis', 'avis', 'msf1')), 'avif');
    assert.equal(sniffImageFormat(ftyp('mif1', 'mif1', 'avif')), 'avif', 'an avif brand among the compatible ones');
  });

  for (const [label, make] of REFUSED) {
    it(`refuses ${label}`, async () => {
      assert.equal(sniffImageFormat(make()), undefined);
      await assert.rejects(checkImageFormat(make()), /^Error: unsupported format/);
      await assert.rejects(decodeImage(make(), 640), (err: Error) => /^unsupported format/.test(err.message));
    });
  }

  it('refuses a file whose header says one format when sharp reads another', async () => {
    // AVIF brand, but the HEIF payload sharp finds is not AV1: sharp does not report it as AVIF.
    await assert.rejects(decodeImage(ftyp('avif', 'avif', 'mif1'), 640), /unsupported format|corrupt|cannot decode/);
  });

  it('every accepted format still decodes, at its full size', async () => {
    for (const make of [
      () => sharp(jpeg).png().toBuffer(), () => sharp(jpeg).webp().toBuffer(), () => sharp(jpeg).gif().toBuffer(),
      () => sharp(jpeg).tiff().toBuffer(), () => sharp(jpeg).avif({ quality: 50 }).toBuffer(), async () => jpeg,
    ]) {
      const { width, height } = await decodeImage(await make(), 640);
      assert.deepEqual([width, height], [675, 469]);
    }
  });
});

describe('image format allowlist: on the server', () => {
  const fx = serverWithClient();

  it('each refused format fails alone with "unsupported format"; the good image is answered; the bomb costs nothing', async (t) => {
    const started = performance.now();
    const res = await fx.client.extract({ images: [...REFUSED.map(([, make]) => ({ data: make() })), { data: jpeg }] });
    const ms = performance.now() - started;
    t.diagnostic(`${REFUSED.length} refused formats and a photo answered in ${ms.toFixed(0)} ms`);
    REFUSED.forEach(([label], i) => {
      assert.equal(res.results[i].error?.code, ImageErrorCode.UNSUPPORTED_FORMAT, label);
      assert.match(res.results[i].error?.message ?? '', /^unsupported format/, `${label}: ${res.results[i].error?.message}`);
    });
    assert.equal(res.results.at(-1)!.faces.length, 3);
    // Measured before the allowlist: the bomb alone took 6 s to render; refused from its header it is instant.
    assert.ok(ms < 3000, `${ms.toFixed(0)} ms`);
  });

  it('/extract answers [] at the refused positions', async () => {
    const { status, json } = await postExtract(fx.server.baseUrl, { images: { data: [base64(Buffer.from(SVG)), base64(jpeg)] } });
    assert.equal(status, 200);
    assert.deepEqual(json.map((f: unknown[]) => f.length), [0, 3]);
  });
});
