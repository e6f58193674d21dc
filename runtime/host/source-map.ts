/**
 * Maps positions in a built module back to its TypeScript source, from the source map esbuild
 * wrote (version 3). The decoding is node's own (`SourceMap` from node:module, issue 12: it
 * replaced a hand-written VLQ decoder; bench/sourcemap.ts measures the two). Decoded once per
 * module version, lazily, on the first error that needs it.
 */
import { SourceMap as NodeSourceMap } from "node:module";

export interface OriginalPosition {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

/** A line of a V8 stack trace that is a frame. */
const isFrame = (line: string) => /^\s+at /.test(line);

/** A frame in the runtime's own code or Node's, which only isolated-vm's boundary should have let in. */
const HOST_FRAME = /(?:file:\/\/|node:internal|\(node:|\(\/)/;

type RawMap = { version?: unknown; sources?: unknown; mappings?: unknown; sourceRoot?: unknown; names?: unknown; sourcesContent?: unknown };

export class SourceMap {
  /** node's decoded map; null when the map is unusable (errors then keep bundle positions). */
  private decoded: NodeSourceMap | null | undefined = undefined;
  private readonly root: string;

  constructor(private readonly raw: RawMap) {
    this.root = typeof raw.sourceRoot === "string" ? raw.sourceRoot : "";
  }

  /** Parses map JSON; a map that is not JSON maps nothing (errors still show bundle positions). */
  static parse(text: string): SourceMap {
    try {
      return new SourceMap(JSON.parse(text) as RawMap);
    } catch {
      return new SourceMap({});
    }
  }

  private decode(): NodeSourceMap | null {
    const raw = this.raw;
    // node's decoder assumes a well-formed map (it reads `sources.length` unchecked).
    if (typeof raw.mappings !== "string" || !Array.isArray(raw.sources)) return null;
    try {
      return new NodeSourceMap({ ...raw, version: 3, names: Array.isArray(raw.names) ? raw.names : [] } as ConstructorParameters<typeof NodeSourceMap>[0]);
    } catch {
      return null;
    }
  }

  /**
   * The source position of a 1-based line and column in the built script, or null: when the
   * map has nothing for that line at or before that column, or the mapping there is an
   * unmapped one (esbuild's own wrapper code).
   */
  lookup(line: number, column: number): OriginalPosition | null {
    if (this.decoded === undefined) this.decoded = this.decode();
    const entry = this.decoded?.findEntry(line - 1, column - 1);
    // findEntry falls back to the last mapping of an earlier line; that is not this frame's.
    if (entry === undefined || !("originalSource" in entry) || entry.generatedLine !== line - 1) return null;
    const { originalSource, originalLine, originalColumn } = entry as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (typeof originalSource !== "string" || originalLine === undefined || originalColumn === undefined) return null;
    return { file: this.root + originalSource, line: originalLine + 1, column: originalColumn + 1 };
  }

  /**
   * A stack trace as a module's developer should see it (issue 12): the message, then the
   * module's own frames mapped to its TypeScript, and nothing of the node's. Dropped: the
   * harness's frames (fixpoint:bootstrap.js), the isolated-vm boundary and the host's frames
   * below it (paths on the node's disk, the runtime's own code), and frames in the bundle that
   * the map cannot place (esbuild's wrapper around the module) when others were placed. The
   * first mapped frame is the error's location.
   */
  ownStack(stack: string, scriptName: string): { stack: string; location: OriginalPosition | null } {
    const lines = stack.split("\n");
    const boundary = lines.findIndex((l) => l.includes("<isolated-vm boundary>"));
    const above = boundary === -1 ? lines : lines.slice(0, boundary);
    const first = above.findIndex(isFrame);
    if (first === -1) return { stack: above.join("\n"), location: null };
    const frames = above.slice(first).filter((l) => isFrame(l) && !HOST_FRAME.test(l) && !l.includes("fixpoint:bootstrap.js"));
    const mapped = frames.map((l) => ({ line: l, ...this.mapStack(l, scriptName) }));
    const placed = mapped.filter((f) => f.location !== null);
    const shown = placed.length > 0 ? mapped.filter((f) => f.location !== null || !f.line.includes(scriptName)) : mapped;
    return { stack: [...above.slice(0, first), ...shown.map((f) => f.stack)].join("\n"), location: placed[0]?.location ?? null };
  }

  /**
   * Rewrites every "scriptName:line:col" in a stack trace to its source position; the first
   * mapped one is returned as the error's location.
   */
  mapStack(stack: string, scriptName: string): { stack: string; location: OriginalPosition | null } {
    let location: OriginalPosition | null = null;
    const escaped = scriptName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const mapped = stack.replace(new RegExp(`${escaped}:(\\d+):(\\d+)`, "g"), (whole, l: string, c: string) => {
      const pos = this.lookup(Number(l), Number(c));
      if (pos === null) return whole;
      location ??= pos;
      return `${pos.file}:${pos.line}:${pos.column}`;
    });
    return { stack: mapped, location };
  }
}
