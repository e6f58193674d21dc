/**
 * Maps positions in a built module back to its TypeScript source, from the source map esbuild
 * wrote (version 3, VLQ "mappings"). Decoded once per module version, lazily, on the first
 * error that needs it.
 */

interface Segment {
  /** 0-based generated column. */
  column: number;
  source: number;
  /** 0-based. */
  line: number;
  /** 0-based. */
  sourceColumn: number;
}

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

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Map([...BASE64].map((c, i) => [c, i]));

export class SourceMap {
  private lines: Segment[][] | null = null;
  private readonly sources: string[];

  constructor(private readonly raw: { sources?: unknown; mappings?: unknown; sourceRoot?: unknown }) {
    const root = typeof raw.sourceRoot === "string" ? raw.sourceRoot : "";
    this.sources = Array.isArray(raw.sources) ? raw.sources.map((s) => root + String(s)) : [];
  }

  /** Parses map JSON; a map that is not JSON maps nothing (errors still show bundle positions). */
  static parse(text: string): SourceMap {
    try {
      return new SourceMap(JSON.parse(text) as Record<string, unknown>);
    } catch {
      return new SourceMap({});
    }
  }

  private decode(): Segment[][] {
    const mappings = typeof this.raw.mappings === "string" ? this.raw.mappings : "";
    const lines: Segment[][] = [];
    let source = 0;
    let line = 0;
    let sourceColumn = 0;
    for (const lineText of mappings.split(";")) {
      const segments: Segment[] = [];
      let column = 0;
      for (const segmentText of lineText.split(",")) {
        if (segmentText === "") continue;
        const fields: number[] = [];
        let value = 0;
        let shift = 0;
        for (const ch of segmentText) {
          const digit = DIGIT.get(ch);
          if (digit === undefined) return lines; // malformed: keep what decoded so far
          value += (digit & 31) << shift;
          if (digit & 32) {
            shift += 5;
          } else {
            fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
            value = 0;
            shift = 0;
          }
        }
        column += fields[0] ?? 0;
        if (fields.length >= 4) {
          source += fields[1]!;
          line += fields[2]!;
          sourceColumn += fields[3]!;
          segments.push({ column, source, line, sourceColumn });
        }
      }
      lines.push(segments);
    }
    return lines;
  }

  /** The source position of a 1-based line and column in the built script, or null. */
  lookup(line: number, column: number): OriginalPosition | null {
    this.lines ??= this.decode();
    const segments = this.lines[line - 1];
    if (segments === undefined || segments.length === 0) return null;
    let best: Segment | undefined;
    for (const s of segments) {
      if (s.column > column - 1) break;
      best = s;
    }
    best ??= segments[0]!;
    const file = this.sources[best.source];
    return file === undefined ? null : { file, line: best.line + 1, column: best.sourceColumn + 1 };
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
