/**
 * The peer in bench/sourcemap.ts: the hand-written source-map decoder the runtime used until
 * issue 12 (VLQ "mappings" decoded lazily into per-line segment arrays, a linear scan per
 * lookup), kept here only so that the bench can measure node:module's SourceMap against it.
 */
import type { OriginalPosition } from "../runtime/host/source-map.js";

interface Segment {
  /** 0-based generated column. */
  column: number;
  source: number;
  /** 0-based. */
  line: number;
  /** 0-based. */
  sourceColumn: number;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Map([...BASE64].map((c, i) => [c, i]));

export class VlqSourceMap {
  private lines: Segment[][] | null = null;
  private readonly sources: string[];

  constructor(private readonly raw: { sources?: unknown; mappings?: unknown; sourceRoot?: unknown }) {
    const root = typeof raw.sourceRoot === "string" ? raw.sourceRoot : "";
    this.sources = Array.isArray(raw.sources) ? raw.sources.map((s) => root + String(s)) : [];
  }

  /** Parses map JSON; a map that is not JSON maps nothing (errors still show bundle positions). */
  static parse(text: string): VlqSourceMap {
    try {
      return new VlqSourceMap(JSON.parse(text) as Record<string, unknown>);
    } catch {
      return new VlqSourceMap({});
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
}
