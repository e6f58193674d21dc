import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { FrameReader, encodeFrame, frameHeader, type Frame } from "../../../loader/protocol/framing.js";
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from "../../../loader/protocol/limits.js";
import { throwsCode } from "../../helpers/expect-code.js";

const BODIES = [Buffer.from("hello"), Buffer.alloc(0), randomBytes(37), Buffer.from([0xff]), Buffer.alloc(0)];
const STREAM = Buffer.concat(BODIES.map(encodeFrame));

function bodies(frames: Frame[]): Buffer[] {
  return frames.map((f) => f.body);
}

/** Feeds `chunks` in order and returns every frame emitted. */
function feed(reader: FrameReader, chunks: Buffer[]): Frame[] {
  return chunks.flatMap((chunk) => reader.push(chunk));
}

describe("FrameReader", () => {
  test("decodes a stream split at every byte offset into the same frames", () => {
    for (let i = 0; i <= STREAM.length; i++) {
      const reader = new FrameReader(1024);
      const frames = feed(reader, [STREAM.subarray(0, i), STREAM.subarray(i)]);
      assert.deepEqual(bodies(frames), BODIES, `split at ${i}`);
      assert.equal(reader.pending, 0);
    }
  });

  test("decodes a stream split at every pair of byte offsets into the same frames", () => {
    for (let i = 0; i <= STREAM.length; i++) {
      for (let j = i; j <= STREAM.length; j++) {
        const reader = new FrameReader(1024);
        const frames = feed(reader, [STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]);
        assert.deepEqual(bodies(frames), BODIES, `split at ${i} and ${j}`);
      }
    }
  });

  test("decodes a stream fed one byte at a time", () => {
    const reader = new FrameReader(1024);
    const frames: Frame[] = [];
    for (let i = 0; i < STREAM.length; i++) {
      frames.push(...reader.push(STREAM.subarray(i, i + 1)));
      assert.ok(reader.pending < FRAME_HEADER_BYTES + 37, "never holds more than one frame's bytes");
    }
    assert.deepEqual(bodies(frames), BODIES);
    assert.equal(reader.pending, 0);
  });

  test("emits several frames carried in one chunk, in order", () => {
    const reader = new FrameReader(1024);
    assert.deepEqual(bodies(reader.push(STREAM)), BODIES);
  });

  test("keeps the partial frame at the end of a chunk until the rest arrives", () => {
    const reader = new FrameReader(1024);
    const first = encodeFrame(Buffer.from("one"));
    const second = encodeFrame(Buffer.from("two"));
    assert.deepEqual(bodies(reader.push(Buffer.concat([first, second.subarray(0, 5)]))), [Buffer.from("one")]);
    assert.equal(reader.pending, 5);
    assert.deepEqual(bodies(reader.push(second.subarray(5))), [Buffer.from("two")]);
    assert.equal(reader.pending, 0);
  });

  test("gives each frame its 4 header bytes, to be authenticated as associated data", () => {
    const reader = new FrameReader(1024);
    const frames = feed(reader, [STREAM.subarray(0, 3), STREAM.subarray(3, 11), STREAM.subarray(11)]);
    assert.deepEqual(
      frames.map((f) => f.header),
      BODIES.map((b) => frameHeader(b.length)),
    );
  });

  test("emits a frame contained in one chunk as a view of that chunk, without a copy", () => {
    const reader = new FrameReader(1024);
    const chunk = encodeFrame(Buffer.from("zero copy"));
    const [frame] = reader.push(chunk);
    assert.ok(frame !== undefined);
    assert.equal(frame.body.buffer, chunk.buffer);
    assert.equal(frame.body.byteOffset, chunk.byteOffset + FRAME_HEADER_BYTES);
  });

  test("emits a zero-length frame, also when its header is the end of a chunk", () => {
    // Regression: take(0) read chunks[0] when the header had consumed the last chunk (TypeError).
    const empty = encodeFrame(Buffer.alloc(0));
    assert.deepEqual(bodies(new FrameReader(1024).push(empty)), [Buffer.alloc(0)]);
    assert.deepEqual(bodies(new FrameReader(1024).push(Buffer.concat([encodeFrame(Buffer.from("x")), empty]))), [Buffer.from("x"), Buffer.alloc(0)]);
    assert.deepEqual(bodies(new FrameReader(0).push(Buffer.concat([empty, empty, empty]))), [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)]);
  });

  test("ignores an empty chunk", () => {
    const reader = new FrameReader(1024);
    assert.deepEqual(reader.push(Buffer.alloc(0)), []);
    const frame = encodeFrame(Buffer.from("abc"));
    assert.deepEqual(reader.push(frame.subarray(0, 2)), []);
    assert.deepEqual(reader.push(Buffer.alloc(0)), []);
    assert.deepEqual(bodies(reader.push(frame.subarray(2))), [Buffer.from("abc")]);
  });

  test("accepts a frame of exactly maxFrameBytes", () => {
    const body = randomBytes(100);
    assert.deepEqual(bodies(new FrameReader(100).push(encodeFrame(body))), [body]);
  });

  test("rejects a frame longer than maxFrameBytes from its header alone, before the body arrives", () => {
    const reader = new FrameReader(100);
    throwsCode(() => reader.push(frameHeader(101)), "FRAME_TOO_LARGE", "101", "100");
  });

  test("rejects an oversized frame whose header arrives in pieces as soon as the header is complete", () => {
    const reader = new FrameReader(100);
    const header = frameHeader(1000);
    assert.deepEqual(reader.push(header.subarray(0, 1)), []);
    assert.deepEqual(reader.push(header.subarray(1, 3)), []);
    throwsCode(() => reader.push(header.subarray(3)), "FRAME_TOO_LARGE");
  });

  test("rejects an oversized frame that follows a good one in the same chunk", () => {
    const reader = new FrameReader(100);
    throwsCode(() => reader.push(Buffer.concat([encodeFrame(Buffer.from("ok")), frameHeader(101)])), "FRAME_TOO_LARGE");
  });

  test("rejects a declared length of 0xFFFFFFFF without allocating for it", () => {
    throwsCode(() => new FrameReader(DEFAULT_MAX_FRAME_BYTES).push(Buffer.from([0xff, 0xff, 0xff, 0xff])), "FRAME_TOO_LARGE", "4294967295");
    throwsCode(() => new FrameReader(0).push(Buffer.from([0x80, 0, 0, 0, 1, 2, 3])), "FRAME_TOO_LARGE");
  });

  test("applies a raised maxFrameBytes to the next header (after the peer is authenticated)", () => {
    const reader = new FrameReader(10);
    const big = randomBytes(50);
    assert.deepEqual(bodies(reader.push(encodeFrame(Buffer.from("small")))), [Buffer.from("small")]);
    reader.maxFrameBytes = 50;
    assert.deepEqual(bodies(reader.push(encodeFrame(big))), [big]);
  });
});

describe("encodeFrame", () => {
  test("prefixes the body with its length as a big-endian uint32", () => {
    assert.deepEqual(encodeFrame(Buffer.from("abc")), Buffer.from([0, 0, 0, 3, 0x61, 0x62, 0x63]));
    assert.deepEqual(frameHeader(0x01020304), Buffer.from([1, 2, 3, 4]));
    assert.deepEqual(frameHeader(0xffffffff), Buffer.from([0xff, 0xff, 0xff, 0xff]));
  });
});
