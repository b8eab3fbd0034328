/**
 * A real PostgreSQL wire endpoint for the PostgreSQL gallery backend: PGlite (PostgreSQL 17
 * compiled to WebAssembly) with pgvector, served on a free TCP port by pglite-socket, in this
 * process. PGlite runs every client's queries over one session, one message at a time, so it
 * shows the SQL and the wire protocol but not transaction isolation between clients.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface TestPostgres {
  url: string;
  /**
   * The server settings for it. pglite-socket queues clients' messages, not their queries: with
   * several connections busy at once, one connection's Parse replaced another's unnamed
   * statement ("unnamed prepared statement does not exist") and rows went to the wrong query
   * (measured through facerest's pool of 8). So each server uses one connection here; a real
   * PostgreSQL takes FACEREST_DATABASE_POOL_SIZE of them.
   */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const db = await PGlite.create({ extensions: { vector } });
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: 64 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  return {
    url,
    env: { FACEREST_DATABASE_URL: url, FACEREST_DATABASE_POOL_SIZE: '1' },
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
