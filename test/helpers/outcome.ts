/** A grpc-js call's outcome as one line: 'OK', or 'CODE: details', for matching in tests. */
import * as grpc from '@grpc/grpc-js';

export async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (err) {
    return `${grpc.status[(err as grpc.ServiceError).code]}: ${(err as grpc.ServiceError).details}`;
  }
}
