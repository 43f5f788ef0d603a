/**
 * Worker-thread entry of the ChunkPool (src/learn/chunk-pool.ts): 'task' builds a task's per-chunk function from
 * its payload (src/learn/chunk-tasks.ts), each 'chunk' (views of the main thread's shared slot, src/io/threads.ts)
 * is answered with its result and index; errors are answered, not thrown, so the pass fails with the message.
 * A 'call' (ChunkPool.call) runs a whole-data function on shared memory and answers through a shared status word.
 */
import { parentPort } from 'node:worker_threads';
import type { SequenceChunk } from '../io/dataset.js';
import { SlotMessage, slotChunk } from '../io/threads.js';
import { CHUNK_TASKS, ChunkTaskName, THREAD_CALLS, ThreadCallName } from './chunk-tasks.js';

type Message =
  | { type: 'task'; run: number; name: ChunkTaskName; payload: unknown }
  | ({ type: 'chunk'; run: number; index: number; sequenceOffset: number } & SlotMessage)
  | { type: 'call'; name: ThreadCallName; args: unknown; status: Int32Array };

const port = parentPort!;
let fn: ((chunk: SequenceChunk, sequenceOffset: number) => unknown) | null = null;
let failed: string | null = null;
port.on('message', (m: Message) => {
  if (m.type === 'call') {
    // The caller blocks on `status` (ChunkPool.call): 1 done, 2 failed (it then computes the result itself).
    let done = 2;
    try {
      THREAD_CALLS[m.name](m.args as never);
      done = 1;
    } catch {
      // Answered as failed: the caller computes the result itself.
    }
    Atomics.store(m.status, 0, done);
    Atomics.notify(m.status, 0);
    return;
  }
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
