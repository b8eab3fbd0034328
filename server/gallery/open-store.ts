/** The gallery's backend from the configuration: PostgreSQL when a URL is given, else the embedded store. */
import type { GallerySettings } from '../config.js';
import { SqliteStore } from './embedded/sqlite-store.js';
import { PostgresStore } from './postgres/pg-store.js';
import type { GalleryStore } from './store.js';

export async function openStore(settings: GallerySettings): Promise<GalleryStore> {
  if (settings.databaseUrl) return PostgresStore.open(settings.databaseUrl, settings.databasePoolSize);
  return SqliteStore.open(settings.dataDir);
}
