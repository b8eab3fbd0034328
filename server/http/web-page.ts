/**
 * The browser page (clients/web, bundled into dist/web by `npm run build`) at `/`. Only the
 * files the build wrote are served, read once into memory: there is no path from a URL to the
 * file system.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { extname, join } from 'node:path';
import { PROJECT_ROOT } from '../../models/packs/paths.js';
import { sendJson } from './body.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

interface Asset {
  body: Buffer;
  type: string;
}

export const WEB_DIR = join(PROJECT_ROOT, 'dist', 'web');

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch { /* not built: every page request gets the 404 below */ }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (type) assets.set(`/${name}`, { body: readFileSync(join(dir, name)), type });
  }
  const index = assets.get('/index.html');
  if (index) assets.set('/', index);
  return assets;
}

/** A handler for GET/HEAD of the page's files; answers false for any other path. */
export function webPage(dir = WEB_DIR) {
  const assets = loadAssets(dir);
  return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, path: string): boolean => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const asset = assets.get(path);
    if (!asset) {
      if (path !== '/') return false;
      sendJson(res, 404, { error: 'the web page is not built: run npm run build' });
      return true;
    }
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': asset.body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else res.end(asset.body);
    return true;
  };
}
