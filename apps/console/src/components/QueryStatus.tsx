// What a list shows before its data: the error, or that it is loading.
import { ErrorNote } from "./ErrorNote.tsx";

export function QueryStatus({ query }: { query: { error: unknown; isPending: boolean } }) {
  if (query.error) return <ErrorNote error={query.error} />;
  if (query.isPending) return <p className="loading">Loading…</p>;
  return null;
}
