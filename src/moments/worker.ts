/**
 * Worker-thread entry for MomentWorkerPool / runParallelPass (src/moments/parallel.ts). Imports the modules of
 * workerData first; then, per pass: 'init' (input model JSON, accumulator specs, control-variate fit) builds fresh
 * accumulators, each 'chunk' is processed and acknowledged, 'finish' posts the accumulator states.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { slotChunk } from '../io/threads.js';
import { InputModel, InputModelJSON, inputModelFromJSON } from '../input/model.js';
import '../input/gaussian.js'; // registers 'gaussian-var1'
import { AccumulatorSpec, MomentAccumulator, momentPass } from './accumulator.js';
import { ControlVariateFit, ControlVariateFitJSON } from './control.js';
import { createAccumulator } from './spec.js';

interface Start {
  modules: string[];
}
interface Init {
  model: InputModelJSON | null;
  specs: AccumulatorSpec[];
  residual: ControlVariateFitJSON | null;
}

const port = parentPort!;
try {
  const start = workerData as Start;
  for (const m of start.modules) await import(m);
  let model: InputModel | null = null;
  let accs: MomentAccumulator[] = [];
  let residual: ControlVariateFit | null = null;
  port.on('message', (msg: { type: string; run: number; sab?: SharedArrayBuffer; dx?: number; dy?: number; rows?: number; nseq?: number } & Partial<Init>) => {
    try {
      if (msg.type === 'init') {
        // A new pass: fresh accumulators (a pool runs several passes on the same threads).
        model = msg.model ? inputModelFromJSON(msg.model) : null;
        accs = msg.specs!.map((s) => createAccumulator(s, model));
        residual = msg.residual ? ControlVariateFit.fromJSON(msg.residual) : null;
      } else if (msg.type === 'chunk') {
        // Views of the main thread's shared slot (ChunkSlot, src/io/threads.ts): not rewritten before our ack, and a
        // slot whose pass failed before our ack is replaced, not reused.
        const chunk = slotChunk(msg as Required<typeof msg>);
        momentPass(model, chunk, accs, residual);
        port.postMessage({ type: 'ack', run: msg.run });
      } else if (msg.type === 'finish') {
        // Copied, not transferred: a detached buffer would slow this thread's later passes (see parallel.ts).
        port.postMessage({ type: 'result', run: msg.run, states: accs.map((a) => ({ count: a.count, sum: a.sum })) });
      }
    } catch (e) {
      port.postMessage({ type: 'error', run: msg.run, message: e instanceof Error ? e.message : String(e) });
    }
  });
} catch (e) {
  port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}
