/** gloree/tensor — dense float64 tensors: unfoldings, mode products, multilinear forms, Khatri–Rao products. */
export {
  Tensor, unfold, fold, permuteModes, reshapeModes, modeProduct, multilinear, contract, contractToVector,
  contractToMatrix, symmetrizeTensor,
} from '../tensor/tensor.js';
export { outer, cpToTensor, khatriRao, khatriRaoList, rowwiseKron } from '../tensor/products.js';
