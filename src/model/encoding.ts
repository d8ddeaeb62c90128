import { ArtifactInvalidError } from '../errors.ts';

/**
 * Float arrays in an artifact travel as base64 of little-endian float64: exact
 * (the model loaded is the model trained, bit for bit) and ~2.7x smaller than
 * decimal JSON.
 */
export function encodeFloats(values: ArrayLike<number>): string {
  const out = Buffer.alloc(values.length * 8);
  for (let i = 0; i < values.length; i++) out.writeDoubleLE(values[i], i * 8);
  return out.toString('base64');
}

export function decodeFloats(text: unknown, expectedLength?: number): Float64Array {
  if (typeof text !== 'string') throw new ArtifactInvalidError('float array must be a base64 string');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 8 !== 0) throw new ArtifactInvalidError('float array length is not a multiple of 8 bytes');
  const out = new Float64Array(bytes.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readDoubleLE(i * 8);
  if (expectedLength !== undefined && out.length !== expectedLength)
    throw new ArtifactInvalidError(`float array has ${out.length} values, expected ${expectedLength}`);
  for (const v of out) if (!Number.isFinite(v)) throw new ArtifactInvalidError('float array holds NaN or Infinity');
  return out;
}
