/** The legacy InsightFace-REST call over plain HTTP/1.1 (Node's fetch). */
export async function postExtract(baseUrl: string, body: unknown): Promise<{ status: number; json: any; contentType: string | null }> {
  const res = await fetch(`${baseUrl}/extract`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json(), contentType: res.headers.get('content-type') };
}

export const base64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
