// The editor's check of a value before it is sent: the server's own rules (@cairn/api/value-rules), and
// its size limit from admin.session. Returns the decoded value, or what is wrong with the text.
import { sizeProblem, valueProblem } from "@cairn/api/value-rules";
import { jsonBytes } from "./format.ts";

export type ValueCheck = { ok: true; value: unknown; bytes: number } | { ok: false; problem: string };

export function checkValueText(text: string, maxValueBytes: number): ValueCheck {
  if (text.trim() === "") return { ok: false, problem: "Enter a JSON value (a string needs quotes)." };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `Not valid JSON: ${(error as Error).message}` };
  }
  const problem = valueProblem(value);
  if (problem) return { ok: false, problem: capitalized(problem) };
  const bytes = jsonBytes(value);
  const tooLarge = sizeProblem(bytes, maxValueBytes);
  if (tooLarge) return { ok: false, problem: capitalized(tooLarge) };
  return { ok: true, value, bytes };
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
