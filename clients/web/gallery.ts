/**
 * The page's gallery panel: choose or create a collection, enrol the faces of dropped images
 * under a name, identify a photo with each face's name and score drawn on its box. Each
 * identified photo's <figure> carries data-names="<name or unknown>,...", each enrolled file's
 * line data-enrolled="<face id>" or data-error.
 */
import { create } from '@bufbuild/protobuf';
import { createClient, type Client, type Transport } from '@connectrpc/connect';
import { ImageResultSchema } from '../../gen/facerest/v1/face_service_pb.js';
import { GalleryService } from '../../gen/facerest/v1/gallery_service_pb.js';
import { drawFaces } from './render.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export interface GalleryPanel {
  /** Call after the transport changes (protocol, API key) to reload the collections. */
  refresh(): Promise<void>;
}

export function galleryPanel(transport: () => Transport, describeError: (err: unknown) => string): GalleryPanel {
  const select = $<HTMLSelectElement>('collection');
  const newName = $<HTMLInputElement>('new-collection');
  const subject = $<HTMLInputElement>('subject');
  const log = $('gallery-log');
  const found = $('identified');
  let client: Client<typeof GalleryService> = createClient(GalleryService, transport());

  const say = (message: string, isError = false) => {
    log.textContent = message;
    log.className = isError ? 'error' : '';
  };

  async function refresh(chosen?: string): Promise<void> {
    client = createClient(GalleryService, transport());
    try {
      const { collections } = await client.listCollections({});
      select.replaceChildren(...collections.map((c) => {
        const option = document.createElement('option');
        option.value = c.name;
        option.textContent = `${c.name} (${c.subjectCount} people, ${c.faceCount} faces)`;
        return option;
      }));
      if (chosen) select.value = chosen;
      select.disabled = collections.length === 0;
    } catch (err) {
      say(describeError(err), true);
    }
  }

  $('create-collection').addEventListener('click', () => void (async () => {
    const name = newName.value.trim();
    try {
      await client.createCollection({ name });
      newName.value = '';
      say(`collection '${name}' created`);
      await refresh(name);
    } catch (err) {
      say(describeError(err), true);
    }
  })());

  async function enrol(files: File[]): Promise<void> {
    const collection = select.value;
    const name = subject.value.trim();
    if (!collection || !name) return say('choose a collection and type the person\'s name first', true);
    const list = document.createElement('ul');
    log.replaceChildren(list);
    for (const file of files) {
      const line = document.createElement('li');
      list.append(line);
      try {
        const res = await client.enroll({ collection, subject: name, images: [{ data: new Uint8Array(await file.arrayBuffer()) }], largestFace: true });
        const r = res.results[0];
        if (r.error) {
          line.dataset.error = r.error.message;
          line.textContent = `${file.name}: not enrolled: ${r.error.message}`;
          line.className = 'error';
        } else {
          line.dataset.enrolled = r.faceId;
          line.textContent = `${file.name}: enrolled as ${name}`;
        }
      } catch (err) {
        line.dataset.error = describeError(err);
        line.textContent = `${file.name}: ${describeError(err)}`;
        line.className = 'error';
      }
    }
    await refresh(collection);
  }

  async function identify(files: File[]): Promise<void> {
    const collection = select.value;
    if (!collection) return say('choose or create a collection first', true);
    for (const file of files) {
      const card = document.createElement('figure');
      card.dataset.file = file.name;
      const caption = document.createElement('figcaption');
      card.append(caption);
      found.prepend(card);
      try {
        const res = await client.identify({ collection, images: [{ data: new Uint8Array(await file.arrayBuffer()) }] });
        const r = res.results[0];
        if (r.error) throw new Error(r.error.message);
        const names = r.faces.map((f) => f.matches[0]?.subject ?? 'unknown');
        const labels = r.faces.map((f) => (f.matches[0] ? `${f.matches[0].subject} ${f.matches[0].score.toFixed(2)}` : 'unknown'));
        const bitmap = await createImageBitmap(file).catch(() => undefined);
        const canvas = document.createElement('canvas');
        // The box labels are the names and match scores, not detection scores.
        drawFaces(canvas, bitmap, create(ImageResultSchema, { width: r.width, height: r.height, faces: r.faces.map((f) => f.face!) }), labels, false);
        bitmap?.close();
        card.prepend(canvas);
        card.dataset.names = names.join(',');
        caption.textContent = `${file.name}: ${names.length ? names.join(', ') : 'no faces'}`;
      } catch (err) {
        card.dataset.error = err instanceof Error && !('code' in err) ? err.message : describeError(err);
        caption.textContent = `${file.name}: ${card.dataset.error}`;
        caption.className = 'error';
      }
    }
  }

  const onFiles = (id: string, run: (files: File[]) => Promise<void>) => {
    $<HTMLInputElement>(id).addEventListener('change', (e) => {
      const input = e.target as HTMLInputElement;
      void run([...(input.files ?? [])]);
      input.value = '';
    });
  };
  onFiles('enrol-files', enrol);
  onFiles('identify-files', identify);

  return { refresh: () => refresh(select.value || undefined) };
}
