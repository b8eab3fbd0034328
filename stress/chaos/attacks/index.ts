/**
 * Every attack of issue 10, in the order: the defects of §1 (items 1-17), then the
 * attacks §2 adds and those the issue lists as held. Item 8 (worker failures) and item 11
 * (tests that cannot fail) are not client behaviour: their tests are test/shutdown.test.ts and
 * the test files themselves.
 */
import type { Attack } from '../types.js';
import {
  apiKeyBodyNeverEnds, connectGzipBomb, garbageProtobuf, grpcGzipBomb, limitVersusBusy, protobufBombNoKey,
  protobufBombWithKey, refusedUploads, stalledUploads,
} from './bodies.js';
import {
  bodyNeverComes, connectionCap, firstBytesSplit, idleConnections, resetAfterResponse, resetBeforeFirstByte, resetDuringRequest,
  slowlorisHttp1Body, slowlorisHttp1Headers,
} from './connections.js';
import {
  continuationFlood, headerOnlyStreams, oversizedHeaders, pingFlood, rapidReset, settingsFlood, slowlorisHttp2,
  stalledHttp2Streams, unreadResponses,
} from './http2.js';
import {
  cmyk, embedOnlyHuge, gif1000, maxSize0Huge, png16, pngClaims, strips, stripsWide, svgBomb, svgRefused, threshold0, tiff50,
} from './images.js';
import {
  jsonDeepNesting, jsonEchoedValue, jsonEmptyStrings, jsonPrototypeKeys, legacyNewerClients, legacyOneAttributeModel,
} from './legacy-json.js';
import { sigtermWithStreams } from './lifecycle.js';
import {
  clientConcurrentExtractAll, streamHugeImage, streamIdle, streamNeverReads, streamReusedIds, streamsVersusUnary,
  streamTinyMessages, streamWaitersAborted,
} from './streams.js';

export const ATTACKS: Attack[] = [
  // 1. Crash on reset; the first-byte sniff.
  resetBeforeFirstByte,
  firstBytesSplit,
  // 2, 12. Slow and idle clients on HTTP/1.1 and HTTP/2.
  idleConnections,
  slowlorisHttp1Headers,
  slowlorisHttp1Body,
  bodyNeverComes,
  slowlorisHttp2,
  streamIdle,
  connectionCap,
  // 3. Refused uploads read their answer.
  refusedUploads,
  // 4. Admission: streams aborted while waiting.
  streamWaitersAborted,
  // 5. API keys before the body.
  apiKeyBodyNeverEnds,
  protobufBombNoKey,
  // 6. Decode memory.
  maxSize0Huge,
  embedOnlyHuge,
  // 9. A limit is not "busy".
  limitVersusBusy,
  // 10. The legacy route as InsightFace-REST.
  legacyNewerClients,
  legacyOneAttributeModel,
  // 13. SVG.
  svgRefused,
  svgBomb,
  // 14. One request against memory or CPU.
  jsonEmptyStrings,
  protobufBombWithKey,
  stalledUploads,
  stalledHttp2Streams,
  headerOnlyStreams,
  unreadResponses,
  threshold0,
  // 15. Streams against unary calls.
  streamsVersusUnary,
  // 16. The project's own client under concurrency; a 100 MB stream message.
  clientConcurrentExtractAll,
  streamHugeImage,
  // 17. 500s on bad input.
  jsonPrototypeKeys,
  jsonDeepNesting,
  jsonEchoedValue,
  garbageProtobuf,
  // §2: resets during and after a request, HTTP/2 abuse, ExtractStream abuse, bombs, decoders.
  resetDuringRequest,
  resetAfterResponse,
  rapidReset,
  settingsFlood,
  pingFlood,
  continuationFlood,
  oversizedHeaders,
  streamNeverReads,
  streamTinyMessages,
  streamReusedIds,
  grpcGzipBomb,
  connectGzipBomb,
  strips,
  stripsWide,
  gif1000,
  tiff50,
  png16,
  cmyk,
  pngClaims,
  // 7. Last: it stops the server on purpose.
  sigtermWithStreams,
];
