/**
 * Worker-thread entry for runParallelPass (src/moments/parallel.ts). Receives the input model (JSON),
 * accumulator specs and control-variate fit through workerData, then processes chunks one message at
 * a time, acknowledging each, and posts the accumulator states on 'finish'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SequenceChunk } from '../io/dataset.js';
import { InputModelJSON, inputModelFromJSON } from '../input/model.js';
import '../input/gaussian.js'; // registers 'gaussian-var1'
import { AccumulatorSpec, momentPass } from './accumulator.js';
import { ControlVariateFit, ControlVariateFitJSON } from './control.js';
import { createAccumulator } from './spec.js';

interface Init {
  model: InputModelJSON | null;
  specs: AccumulatorSpec[];
  residual: ControlVariateFitJSON | null;
  modules: string[];
}

const port = parentPort!;
try {
  const init = workerData as Init;
  for (const m of init.modules) await import(m);
  const model = init.model ? inputModelFromJSON(init.model) : null;
  const accs = init.specs.map((s) => createAccumulator(s, model));
  const residual = init.residual ? ControlVariateFit.fromJSON(init.residual) : null;
  port.on('message', (msg: { type: string; chunk?: SequenceChunk }) => {
    try {
      if (msg.type === 'chunk') {
        momentPass(model, msg.chunk!, accs, residual);
        port.postMessage({ type: 'ack' });
      } else if (msg.type === 'finish') {
        const states = accs.map((a) => ({ count: a.count, sum: a.sum }));
        port.postMessage({ type: 'result', states }, states.map((s) => s.sum.buffer as ArrayBuffer));
      }
    } catch (e) {
      port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  });
} catch (e) {
  port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}
