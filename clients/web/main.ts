/**
 * The facerest page: pick or drop images; each goes to the Extract RPC over Connect or gRPC-Web
 * (from the browser's fetch), and the answers are drawn. Each processed image's <figure> carries
 * data-faces="<boxes drawn>", or data-error when it failed. The gallery panel is gallery.ts.
 */
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-web';
import { FaceService, ModelRole, type ImageResult } from '../../gen/facerest/v1/face_service_pb.js';
import { galleryPanel } from './gallery.js';
import { cropList, drawFaces, similarityTable, type PageFace } from './render.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const protocolSelect = $<HTMLSelectElement>('protocol');
const apiKeyInput = $<HTMLInputElement>('api-key');
const serverLine = $('server');
const status = $('status');
const images = $('images');

/** Requests in flight at once: enough to keep the server's workers busy, not a flood. */
const PARALLEL = 4;
const baseUrl = window.location.origin;

/** Sends the API key, when one is typed in, with every call. */
const withApiKey: Interceptor = (next) => (req) => {
  const key = apiKeyInput.value.trim();
  if (key) req.header.set('authorization', `Bearer ${key}`);
  return next(req);
};

let client: Client<typeof FaceService> = makeClient();
let threshold = 0;
/** Faces per processed image, in the order the images were added. */
const facesByCard = new Map<HTMLElement, PageFace[]>();
let imageCount = 0;

/**
 * Connect in its binary format: its JSON carries each photo as base64, which the server's main
 * thread must parse and decode (one 2.3 MB photo: 45 to 46 ms of it a call, against 8 to 9 in
 * binary), and which is a third larger on the wire.
 */
function makeTransport(): Transport {
  const options = { baseUrl, interceptors: [withApiKey] };
  return protocolSelect.value === 'grpc-web' ? createGrpcWebTransport(options) : createConnectTransport({ ...options, useBinaryFormat: true });
}

function makeClient(): Client<typeof FaceService> {
  return createClient(FaceService, makeTransport());
}

/** A call's failure in words a user can act on. */
function describeError(err: unknown): string {
  if (err instanceof ConnectError) {
    if (err.code === Code.Unauthenticated) return 'this server needs an API key: type it in above';
    if (/fetch|network/i.test(err.rawMessage)) return `cannot reach the facerest server at ${baseUrl} (${err.rawMessage})`;
    return `the server answered: ${err.rawMessage}`;
  }
  return String(err);
}

function showStatus(message: string, isError = false): void {
  status.textContent = message;
  status.className = isError ? 'error' : '';
}

async function connect(): Promise<void> {
  try {
    const info = await client.info({}, { timeoutMs: 10_000 });
    const recognizer = info.models.find((m) => m.role === ModelRole.RECOGNIZER);
    threshold = recognizer?.samePersonThreshold ?? 0;
    serverLine.textContent = `facerest ${info.version} · ${recognizer?.name ?? '?'} (${recognizer?.embeddingSize ?? '?'}-d) · `
      + `${protocolSelect.selectedOptions[0].text}`;
    showStatus('');
  } catch (err) {
    serverLine.textContent = 'not connected';
    showStatus(describeError(err), true);
  }
}

function letter(n: number): string {
  let s = '';
  for (let k = n; k >= 0; k = Math.floor(k / 26) - 1) s = String.fromCharCode(65 + (k % 26)) + s;
  return s;
}

function newCard(file: File): HTMLElement {
  const card = document.createElement('figure');
  card.dataset.file = file.name;
  const caption = document.createElement('figcaption');
  caption.textContent = `${file.name}: processing…`;
  card.append(caption);
  images.append(card);
  return card;
}

function fail(card: HTMLElement, file: File, message: string): void {
  card.dataset.error = message;
  const caption = card.querySelector('figcaption')!;
  caption.textContent = `${file.name}: ${message}`;
  caption.className = 'error';
}

async function processFile(file: File, card: HTMLElement, prefix: string): Promise<void> {
  let result: ImageResult;
  try {
    const data = new Uint8Array(await file.arrayBuffer());
    const res = await client.extract({ images: [{ data }], options: { returnAlignedFace: true } });
    result = res.results[0];
  } catch (err) {
    const message = describeError(err);
    fail(card, file, message);
    showStatus(message, true);
    return;
  }
  if (result.error) return fail(card, file, result.error.message);
  // The browser may not decode every format the server does (TIFF, say): then boxes go on grey.
  const bitmap = await createImageBitmap(file).catch(() => undefined);
  const faces: PageFace[] = result.faces.map((face, i) => ({
    label: `${prefix}${i + 1}`,
    face,
    cropUrl: face.alignedFace.length ? URL.createObjectURL(new Blob([new Uint8Array(face.alignedFace)], { type: 'image/jpeg' })) : undefined,
  }));
  const canvas = document.createElement('canvas');
  const drawn = drawFaces(canvas, bitmap, result, faces.map((f) => f.label));
  bitmap?.close();
  card.dataset.faces = String(drawn);
  card.querySelector('figcaption')!.textContent = `${prefix} · ${file.name}: ${drawn} face${drawn === 1 ? '' : 's'}`;
  card.prepend(canvas);
  card.append(cropList(faces));
  facesByCard.set(card, faces);
  renderMatrix();
}

function renderMatrix(): void {
  const all = [...images.children].flatMap((card) => facesByCard.get(card as HTMLElement) ?? []);
  const section = $('similarity');
  section.hidden = all.length < 2;
  if (section.hidden) return;
  $('threshold').textContent = threshold > 0
    ? `Cosine similarity of every pair of faces. Green: same person (at or above ${threshold.toFixed(3)}, the threshold `
      + 'measured for this recognizer on labelled pairs); red: different people.'
    : 'Cosine similarity of every pair of faces (no same-person threshold has been measured for this recognizer).';
  $('matrix').replaceChildren(similarityTable(all, threshold));
}

async function addFiles(files: File[]): Promise<void> {
  const queue = files.map((file) => ({ file, card: newCard(file), prefix: letter(imageCount++) }));
  const run = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await processFile(job.file, job.card, job.prefix);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, run));
}

$<HTMLInputElement>('files').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  void addFiles([...(input.files ?? [])]);
  input.value = '';
});

const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  void addFiles([...(e.dataTransfer?.files ?? [])]);
});

const gallery = galleryPanel(makeTransport, describeError);

protocolSelect.addEventListener('change', () => {
  client = makeClient();
  void connect().then(() => gallery.refresh());
});
apiKeyInput.addEventListener('change', () => void connect().then(() => gallery.refresh()));

void connect().then(() => gallery.refresh());
