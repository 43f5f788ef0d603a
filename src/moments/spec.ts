import { Matrix } from '../linalg/matrix.js';
import { InputModel } from '../input/model.js';
import { AccumulatorJSON, AccumulatorSpec, MomentAccumulator } from './accumulator.js';
import { ControlVariate } from './control.js';
import { ProjectedMixedAccumulator } from './mixed.js';
import { MixedMomentAccumulator } from './mixed-explicit.js';
import { T1Accumulator, T2Accumulator } from './single.js';
import { MarkovAccumulator } from './markov.js';
import { MixtureVAR1 } from '../input/var1-mixture.js';
import { NGProjectedMixedAccumulator, NGT1Accumulator, NGT2Accumulator } from './nongaussian.js';

/**
 * Build an (empty) accumulator from its serializable spec; the inverse of `acc.spec()`. Used by the
 * worker threads and to revive accumulators from JSON.
 */
export function createAccumulator(spec: AccumulatorSpec, model: InputModel | null): MomentAccumulator {
  const needModel = (): InputModel => {
    if (model === null) throw new Error(`createAccumulator: a ${spec.type} accumulator needs an input model`);
    return model;
  };
  switch (spec.type) {
    case 'T1':
      return new T1Accumulator(needModel(), spec.dy, { target: spec.target, skipLast: spec.skipLast });
    case 'T2':
      return new T2Accumulator(needModel(), spec.dy, { target: spec.target, skipLast: spec.skipLast });
    case 'mixed':
      return new MixedMomentAccumulator(needModel(), spec.dy, spec.direction, { target: spec.target });
    case 'mixedProjected':
      return new ProjectedMixedAccumulator(needModel(), spec.dy, spec.direction, Matrix.from(spec.demix), Matrix.from(spec.first), Matrix.from(spec.pair), {
        target: spec.target,
        full: spec.full,
      });
    case 'ngT1':
    case 'ngT2':
    case 'ngMixedProjected': {
      const m = needModel();
      if (!(m instanceof MixtureVAR1)) throw new Error(`createAccumulator: a ${spec.type} accumulator needs a mixture-var1 input model, got ${m.kind}`);
      if (spec.type === 'ngMixedProjected') return new NGProjectedMixedAccumulator(m, spec.dy, spec.direction, Matrix.from(spec.demix), Matrix.from(spec.first), Matrix.from(spec.pair), { target: spec.target });
      return new (spec.type === 'ngT1' ? NGT1Accumulator : NGT2Accumulator)(m, spec.dy, { target: spec.target, skipLast: spec.skipLast });
    }
    case 'controlVariate':
      return new ControlVariate(spec.dx, spec.dy, { quadratic: spec.quadratic, center: spec.center });
    case 'markov':
      return new MarkovAccumulator(needModel(), spec.dy, spec.lags, { target: spec.target });
    default:
      throw new Error(`createAccumulator: unknown accumulator type ${(spec as { type: string }).type}`);
  }
}

/** Revive an accumulator (spec + state) from `acc.toJSON()`. */
export function accumulatorFromJSON(json: AccumulatorJSON, model: InputModel | null): MomentAccumulator {
  return createAccumulator(json.spec, model).loadState(json.count, json.sum);
}
