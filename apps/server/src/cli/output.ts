// How the CLI prints: aligned tables for people, JSON (--json) for scripts.
import stringWidth from "string-width";

export interface Output {
  json: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

export function stdOutput(json: boolean): Output {
  return {
    json,
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
}

/**
 * Columns padded to their widest cell, measured in terminal columns (a CJK character or an emoji takes two,
 * a combining mark none); an empty list prints `empty` instead of a bare header.
 */
export function table(rows: Record<string, string>[], columns: string[], empty = "(none)"): string {
  if (rows.length === 0) return empty;
  const widths = columns.map((column) =>
    Math.max(stringWidth(column), ...rows.map((row) => stringWidth(row[column] ?? ""))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell + " ".repeat(Math.max(0, (widths[i] ?? 0) - stringWidth(cell))))
      .join("  ")
      .trimEnd();
  return [
    line(columns.map((c) => c.toUpperCase())),
    ...rows.map((row) => line(columns.map((c) => row[c] ?? ""))),
  ].join("\n");
}

const graphemes = new Intl.Segmenter();

/** A value as one short line for a table cell: at most `max` terminal columns. */
export function preview(value: unknown, max = 60): string {
  const text = JSON.stringify(value) ?? "";
  if (stringWidth(text) <= max) return text;
  let cut = "";
  let width = 0;
  for (const { segment } of graphemes.segment(text)) {
    width += stringWidth(segment);
    if (width > max - 1) break;
    cut += segment;
  }
  return `${cut}…`;
}
