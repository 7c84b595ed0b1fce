import { expect } from 'vitest';
import { InvalidSignatureError } from '../../../src/core/errors.ts';

/** The InvalidSignatureError `run` throws; fails the test when it throws anything else or nothing. */
export function refusal(run: () => unknown): InvalidSignatureError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSignatureError);
    return error as InvalidSignatureError;
  }
  throw new Error('expected an InvalidSignatureError');
}

export interface FuzzOutcome {
  accepted: number;
  refused: number;
  /** Inputs (hex) that made `run` throw something other than InvalidSignatureError; at most 5. */
  unexpected: string[];
}

/**
 * Feeds `run` a fixed, seeded sequence of random inputs and mutations of `seeds` (flipped, inserted,
 * deleted and duplicated bytes, truncations, extreme length bytes), `iterations` in all.
 */
export function fuzz(options: { seeds: readonly Buffer[]; iterations: number; prefix: Buffer; run: (input: Buffer) => unknown }): FuzzOutcome {
  const random = mulberry32(0x5eed);
  const pick = (n: number) => Math.floor(random() * n);
  const outcome: FuzzOutcome = { accepted: 0, refused: 0, unexpected: [] };
  for (let i = 0; i < options.iterations; i++) {
    const input = i % 4 === 0 ? randomInput(pick, options.prefix) : mutate(options.seeds[pick(options.seeds.length)]!, pick);
    try {
      options.run(input);
      outcome.accepted++;
    } catch (error) {
      if (error instanceof InvalidSignatureError) outcome.refused++;
      else if (outcome.unexpected.length < 5) outcome.unexpected.push(`${input.toString('hex')}: ${String(error)}`);
    }
  }
  return outcome;
}

const EXTREMES = [0x00, 0x01, 0x04, 0x05, 0x7f, 0x80, 0xfa, 0xfb, 0xfc, 0xff];

function randomInput(pick: (n: number) => number, prefix: Buffer): Buffer {
  const body = Buffer.from(Array.from({ length: pick(48) }, () => pick(256)));
  return pick(3) === 0 ? body : Buffer.concat([prefix, body]);
}

function mutate(seed: Buffer, pick: (n: number) => number): Buffer {
  const bytes = [...seed];
  for (let n = 1 + pick(3); n > 0; n--) {
    const at = pick(bytes.length + 1);
    switch (pick(6)) {
      case 0: bytes[at] = pick(256); break;
      case 1: bytes.splice(at, 0, pick(256)); break;
      case 2: bytes.splice(at, 1); break;
      case 3: bytes.length = at; break;
      case 4: bytes.splice(at, 0, ...bytes.slice(pick(bytes.length), pick(bytes.length) + 8)); break;
      default: bytes[at] = EXTREMES[pick(EXTREMES.length)]!;
    }
  }
  return Buffer.from(bytes.map((b) => b & 0xff));
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
