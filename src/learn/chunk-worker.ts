/**
 * Worker-thread entry of the ChunkPool (src/learn/chunk-pool.ts): 'task' builds a task's per-chunk function from
 * its payload (src/learn/chunk-tasks.ts), each 'chunk' (views of the main thread's shared slot, src/io/threads.ts)
 * is answered with its result and index; errors are answered, not thrown, so the pass fails with the message.
 */
import { parentPort } from 'node:worker_threads';
import type { SequenceChunk } from '../io/dataset.js';
import { SlotMessage, slotChunk } from '../io/threads.js';
import { CHUNK_TASKS, ChunkTaskName } from './chunk-tasks.js';

type Message = { type: 'task'; run: number; name: ChunkTaskName; payload: unknown } | ({ type: 'chunk'; run: number; index: number; sequenceOffset: number } & SlotMessage);

const port = parentPort!;
let fn: ((chunk: SequenceChunk, sequenceOffset: number) => unknown) | null = null;
let failed: string | null = null;
port.on('message', (m: Message) => {
  if (m.type === 'task') {
    failed = null;
    try {
      fn = CHUNK_TASKS[m.name](m.payload);
    } catch (e) {
      failed = e instanceof Error ? e.message : String(e);
    }
    return;
  }
  try {
    if (failed !== null) throw new Error(failed);
    port.postMessage({ run: m.run, index: m.index, result: fn!(slotChunk(m), m.sequenceOffset) });
  } catch (e) {
    port.postMessage({ run: m.run, index: m.index, error: e instanceof Error ? e.message : String(e) });
  }
});
