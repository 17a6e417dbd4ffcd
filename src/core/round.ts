/** Round half to even, as numpy's round and torch.round do (Math.round sends .5 up). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
