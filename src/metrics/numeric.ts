/** Small float64 numerics NIQE needs: the gamma function and the pseudo-inverse of a symmetric matrix. */

/** Lanczos approximation (g = 7, 9 terms; relative error ~1e-15 for x > 0), as scipy.special.gamma for the arguments NIQE uses. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function gamma(x: number): number {
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gamma(1 - x));
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return Math.sqrt(2 * Math.PI) * t ** (z + 0.5) * Math.exp(-t) * a;
}

/**
 * np.linalg.pinv of a symmetric n×n matrix (row-major): cyclic Jacobi eigendecomposition,
 * then V diag(1/λ) Vᵀ over the eigenvalues with |λ| > 1e-15·max|λ| (numpy's default rcond;
 * for a symmetric matrix the singular values are the |λ|).
 */
export function pinvSymmetric(m: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(m);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const lambda = Float64Array.from({ length: n }, (_, i) => a[i * n + i]);
  const cutoff = 1e-15 * Math.max(...lambda.map(Math.abs));
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    if (!(Math.abs(lambda[k]) > cutoff)) continue;
    const inv = 1 / lambda[k];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] += v[i * n + k] * inv * v[j * n + k];
  }
  return out;
}
