/**
 * Worker-thread entry of the parallel CSV reader (src/io/csv-parallel.ts): each block request is answered with the
 * block parser's reply (src/io/csv-parse-block.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ParseRequest, ParseShape, blockParser } from './csv-parse-block.js';

const parse = blockParser(workerData as ParseShape);
const port = parentPort!;
port.on('message', (req: ParseRequest) => {
  port.postMessage(parse(req));
});
