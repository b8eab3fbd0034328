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
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const db = await PGlite.create({ extensions: { vector } });
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: 64 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  return {
    url,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
