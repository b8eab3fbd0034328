/** PNG files written byte by byte, for images no encoder would make (bombs, odd headers). */
import { constants, crc32, deflateSync } from 'node:zlib';

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/** A PNG of the given header around already compressed rows (`idat`). */
export function pngOf(width: number, height: number, bitDepth: number, colourType: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A valid side x side 1-bit PNG of about 110 KB at 30000: 900 megapixels once decoded. */
export function pngBomb(side = 30000): Buffer {
  return pngOf(side, side, 1, 0, deflateSync(Buffer.alloc(side * (1 + Math.ceil(side / 8))), { level: constants.Z_BEST_COMPRESSION }));
}
