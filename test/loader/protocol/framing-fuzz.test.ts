/**
 * Seeded fuzzing of the frame decoder's streaming path (issue 13: it had no unit tests) and of
 * opening a sealed frame part by part: frames split at every offset and at random ones, tampered
 * tags and bodies, reordered and truncated pieces. The budget is small in `npm test`;
 * FUZZ_RUNS raises it (`FUZZ_RUNS=100000 npm test -- test/loader/protocol/framing-fuzz.test.ts`).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { FrameReader, encodeFrame, frameHeader, type FrameSink } from "../../../loader/protocol/framing.js";
import { AEAD_TAG_BYTES, Opener, Sealer } from "../../../loader/protocol/crypto/aead.js";

const fuzz = { seed: 1313, numRuns: Number(process.env["FUZZ_RUNS"] ?? 300) };

interface Delivered {
  header: Buffer;
  body: Buffer;
  streamed: boolean;
}

/** A sink that reassembles what the reader hands over, checking the start/part/end protocol. */
function recorder(): { sink: FrameSink; out: Delivered[] } {
  const out: Delivered[] = [];
  let open: { header: Buffer; length: number; parts: Buffer[] } | null = null;
  const sink: FrameSink = {
    frame: (header, body) => {
      assert.equal(open, null, "a whole frame while another is streaming");
      out.push({ header: Buffer.from(header), body: Buffer.from(body), streamed: false });
    },
    start: (header, length) => {
      assert.equal(open, null, "start while another is streaming");
      open = { header: Buffer.from(header), length, parts: [] };
    },
    part: (bytes) => {
      assert.notEqual(open, null, "part outside start/end");
      assert.ok(bytes.length > 0, "an empty part");
      open!.parts.push(Buffer.from(bytes));
    },
    end: () => {
      assert.notEqual(open, null, "end without start");
      const body = Buffer.concat(open!.parts);
      assert.equal(body.length, open!.length, "the parts add up to the announced length");
      out.push({ header: open!.header, body, streamed: true });
      open = null;
    },
  };
  return { sink, out };
}

/** Feeds `stream` cut at `cuts` (sorted offsets) and returns what was delivered. */
function deliver(stream: Buffer, cuts: number[], streamFrom: number): Delivered[] {
  const reader = new FrameReader(1 << 20);
  const { sink, out } = recorder();
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    reader.read(stream.subarray(from, cut), sink, streamFrom);
    from = cut;
  }
  assert.equal(reader.pending, 0, "nothing left over");
  return out;
}

function assertSame(delivered: Delivered[], bodies: Buffer[], streamFrom: number): void {
  assert.equal(delivered.length, bodies.length);
  delivered.forEach((d, i) => {
    assert.ok(d.body.equals(bodies[i]!), `frame ${i} differs`);
    assert.ok(d.header.equals(frameHeader(bodies[i]!.length)), `frame ${i}'s header differs`);
    if (bodies[i]!.length < streamFrom) assert.equal(d.streamed, false, `frame ${i} is below streamFrom and must arrive whole`);
  });
}

const body = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 200, maxLength: 2000 }) },
).map((b) => Buffer.from(b));

describe("FrameReader.read, the streaming path", () => {
  test("delivers a stream with a large frame split at every offset, whole or in parts that add up", () => {
    const bodies = [randomBytes(5), randomBytes(700), Buffer.alloc(0), randomBytes(300), randomBytes(3)];
    const stream = Buffer.concat(bodies.map(encodeFrame));
    for (const streamFrom of [64, 300, 701]) {
      for (let i = 0; i <= stream.length; i++) assertSame(deliver(stream, [i], streamFrom), bodies, streamFrom);
    }
  });

  test("delivers a stream split at every pair of offsets around the large frame", () => {
    const bodies = [randomBytes(9), randomBytes(120), randomBytes(2)];
    const stream = Buffer.concat(bodies.map(encodeFrame));
    for (let i = 0; i <= stream.length; i++) for (let j = i; j <= stream.length; j++) assertSame(deliver(stream, [i, j], 32), bodies, 32);
  });

  test("delivers any frames split at any offsets (seeded property)", () => {
    fc.assert(
      fc.property(fc.array(body, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 1, max: 512 }), (bodies, rawCuts, streamFrom) => {
        const stream = Buffer.concat(bodies.map(encodeFrame));
        const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        assertSame(deliver(stream, cuts, streamFrom), bodies, streamFrom);
      }),
      fuzz,
    );
  });

  test("rejects an oversized header that follows a streamed frame, after delivering that frame", () => {
    const reader = new FrameReader(1000);
    const { sink, out } = recorder();
    const good = randomBytes(600);
    const stream = Buffer.concat([encodeFrame(good), frameHeader(5000)]);
    reader.read(stream.subarray(0, 100), sink, 64);
    assert.throws(() => reader.read(stream.subarray(100), sink, 64), (err: { code?: string }) => err.code === "FRAME_TOO_LARGE");
    assert.equal(out.length, 1);
    assert.ok(out[0]!.body.equals(good));
  });
});

function keyPair(): { key: Buffer; sealer: Sealer; opener: Opener } {
  const key = randomBytes(32);
  return { key, sealer: new Sealer(key), opener: new Opener(key) };
}

/** Opens `sealed` part by part, cut at `cuts`. */
function openInParts(opener: Opener, header: Buffer, sealed: Buffer, cuts: number[]): Buffer | null {
  const opening = opener.begin(header, sealed.length);
  let from = 0;
  for (const cut of [...cuts, sealed.length]) {
    opening.update(sealed.subarray(from, cut));
    from = cut;
  }
  return opening.finish();
}

describe("opening a sealed frame part by part", () => {
  const plain = fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b));
  const cuts = (length: number) => fc.array(fc.integer({ min: 0, max: length }), { maxLength: 12 }).map((c) => [...new Set(c)].sort((a, b) => a - b));

  test("opens what was sealed, however it is split, and sealInPieces writes the bytes seal does (seeded property)", () => {
    fc.assert(
      fc.property(
        plain.chain((p) => fc.tuple(fc.constant(p), cuts(p.length + AEAD_TAG_BYTES), fc.integer({ min: 1, max: 512 }))),
        ([p, at, pieceBytes]) => {
          const { key, sealer, opener } = keyPair();
          const header = frameHeader(p.length + AEAD_TAG_BYTES);
          const twin = new Sealer(key);
          const pieces: Buffer[] = [];
          twin.sealInPieces([p.subarray(0, p.length >> 1), p.subarray(p.length >> 1)], header, pieceBytes, (piece) => pieces.push(Buffer.from(piece)));
          const sealed = Buffer.concat(sealer.seal(p, header));
          assert.ok(Buffer.concat(pieces).equals(sealed), "sealInPieces and seal agree");
          const opened = openInParts(opener, header, sealed, at);
          assert.ok(opened !== null && opened.equals(p));
        },
      ),
      fuzz,
    );
  });

  test("refuses a tampered body, tag or header, wherever the byte is (seeded property)", () => {
    fc.assert(
      fc.property(
        plain.chain((p) => fc.tuple(fc.constant(p), cuts(p.length + AEAD_TAG_BYTES), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean())),
        ([p, at, where, flip, inHeader]) => {
          const { sealer, opener } = keyPair();
          const header = frameHeader(p.length + AEAD_TAG_BYTES);
          const sealed = Buffer.concat(sealer.seal(p, header));
          if (inHeader) {
            const bad = Buffer.from(header);
            bad[where % bad.length]! ^= flip;
            assert.equal(openInParts(opener, bad, sealed, at), null);
          } else {
            sealed[where % sealed.length]! ^= flip;
            assert.equal(openInParts(opener, header, sealed, at), null);
          }
        },
      ),
      fuzz,
    );
  });

  test("refuses a truncated frame, a frame with bytes added, and two pieces swapped (seeded property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 2, maxLength: 2000 }).map((b) => Buffer.from(b)),
        fc.nat(),
        fc.nat(),
        fc.constantFrom("truncate", "extend", "swap"),
        (p, a, b, how) => {
          const { sealer, opener } = keyPair();
          const header = frameHeader(p.length + AEAD_TAG_BYTES);
          const sealed = Buffer.concat(sealer.seal(p, header));
          if (how === "truncate") {
            const keep = a % sealed.length;
            // The reader announced the full length; fewer bytes arrive before the frame "ends".
            const opening = opener.begin(header, sealed.length);
            opening.update(sealed.subarray(0, keep));
            assert.equal(opening.finish(), null);
          } else if (how === "extend") {
            const opening = opener.begin(header, sealed.length);
            opening.update(Buffer.concat([sealed, Buffer.from([a & 0xff])]));
            assert.equal(opening.finish(), null);
          } else {
            const i = a % sealed.length;
            const j = b % sealed.length;
            const [lo, hi] = i <= j ? [i, j] : [j, i];
            const mid = (lo + hi) >> 1;
            const swapped = Buffer.concat([sealed.subarray(0, lo), sealed.subarray(mid, hi), sealed.subarray(lo, mid), sealed.subarray(hi)]);
            if (swapped.equals(sealed)) return;
            assert.equal(openInParts(opener, header, swapped, [lo, hi]), null);
          }
        },
      ),
      fuzz,
    );
  });
});
