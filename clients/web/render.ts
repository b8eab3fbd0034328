/** What the page draws: an image with its faces, the face crops, and the similarity matrix. */
import type { Face, ImageResult } from '../../gen/facerest/v1/face_service_pb.js';
import { cosine } from '../similarity.js';

/** A face found on the page, labelled by image letter and face number (A1, A2, B1, ...). */
export interface PageFace {
  label: string;
  face: Face;
  /** Object URL of the aligned crop, when the server sent one. */
  cropUrl?: string;
}

const BOX = '#00c853';
/** Box colours by overall quality: good, usable, poor (the server's default enrolment minimum is 0.3). */
const QUALITY_COLOURS: [min: number, colour: string][] = [[0.5, BOX], [0.3, '#ffab00'], [0, '#ff1744']];
const POINTS = ['#ff1744', '#ff1744', '#2979ff', '#ffab00', '#ffab00'];

/**
 * Draws the image (or a grey stand-in when the browser cannot decode a format the server can)
 * with each face's box, label and 5 landmarks, on a canvas of the image's own size.
 * Returns the number of boxes drawn.
 */
export function drawFaces(canvas: HTMLCanvasElement, bitmap: ImageBitmap | undefined, result: ImageResult, labels: string[],
  withScore = true): number {
  canvas.width = bitmap?.width ?? result.width;
  canvas.height = bitmap?.height ?? result.height;
  const ctx = canvas.getContext('2d')!;
  if (bitmap) ctx.drawImage(bitmap, 0, 0);
  else {
    ctx.fillStyle = '#ccc';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  // Lines and text scale with the image so they read the same on a thumbnail and a large photo.
  const unit = Math.max(1, Math.max(canvas.width, canvas.height) / 400);
  ctx.lineWidth = 2 * unit;
  ctx.font = `${12 * unit}px system-ui, sans-serif`;
  let drawn = 0;
  result.faces.forEach((f, i) => {
    if (!f.box) return;
    const { x1, y1, x2, y2 } = f.box;
    const colour = f.quality ? QUALITY_COLOURS.find(([min]) => f.quality!.overall >= min)![1] : BOX;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.fillStyle = colour;
    const text = [labels[i], withScore ? f.score.toFixed(2) : '', f.quality ? `q ${f.quality.overall.toFixed(2)}` : ''].filter(Boolean).join(' ');
    ctx.fillText(text, x1, Math.max(12 * unit, y1 - 3 * unit));
    f.landmarks.forEach((p, k) => {
      ctx.fillStyle = POINTS[k] ?? BOX;
      ctx.beginPath();
      ctx.arc(p.x, p.y, 2.2 * unit, 0, 2 * Math.PI);
      ctx.fill();
    });
    drawn++;
  });
  return drawn;
}

/** The crops, each with its label. */
export function cropList(faces: PageFace[]): HTMLElement {
  const list = document.createElement('div');
  list.className = 'crops';
  for (const f of faces) {
    const item = document.createElement('div');
    item.className = 'crop';
    if (f.cropUrl) {
      const img = document.createElement('img');
      img.src = f.cropUrl;
      img.alt = `face ${f.label}`;
      item.append(img);
    }
    item.append(f.label);
    const q = f.face.quality;
    if (q) {
      const line = document.createElement('div');
      line.className = 'quality';
      line.dataset.quality = q.overall.toFixed(4);
      line.textContent = `q ${q.overall.toFixed(2)}`;
      line.title = `quality ${q.overall.toFixed(2)}: yaw ${Math.round(q.yaw)}°, pitch ${Math.round(q.pitch)}°, roll ${Math.round(q.roll)}°, `
        + `sharpness ${q.sharpness.toFixed(2)}, brightness ${q.brightness.toFixed(2)}, ${q.sizePx} px`;
      item.append(line);
    }
    list.append(item);
  }
  return list;
}

/**
 * Background for a similarity: green shades at or above the threshold (same person), red shades
 * below it, stronger the further from it. Without a measured threshold, one neutral blue scale.
 */
function shade(similarity: number, threshold: number): string {
  if (threshold <= 0) return `hsl(215, 70%, ${Math.round(95 - 45 * Math.max(0, similarity))}%)`;
  const same = similarity >= threshold;
  const distance = same ? (similarity - threshold) / (1 - threshold) : (threshold - similarity) / (threshold + 1);
  return `hsl(${same ? 130 : 3}, 65%, ${Math.round(90 - 40 * Math.min(1, distance))}%)`;
}

/** Every face against every other: cosine of the embeddings, coloured by the threshold. */
export function similarityTable(faces: PageFace[], threshold: number): HTMLTableElement {
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  head.append(document.createElement('th'));
  const header = (f: PageFace) => {
    const th = document.createElement('th');
    if (f.cropUrl) {
      const img = document.createElement('img');
      img.src = f.cropUrl;
      img.alt = '';
      th.append(img);
    }
    th.append(f.label);
    return th;
  };
  for (const f of faces) head.append(header(f));
  const body = table.createTBody();
  for (const a of faces) {
    const row = body.insertRow();
    row.append(header(a));
    for (const b of faces) {
      const cell = row.insertCell();
      const s = cosine(a.face.embedding, b.face.embedding);
      cell.textContent = s.toFixed(2);
      cell.dataset.similarity = s.toFixed(4);
      cell.style.background = a === b ? '#eee' : shade(s, threshold);
      if (a !== b && threshold > 0) cell.title = s >= threshold ? 'same person' : 'different people';
    }
  }
  return table;
}
