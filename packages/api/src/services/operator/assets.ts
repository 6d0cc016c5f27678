// admin.assets.list (spec §7): assets by name, with their live keys and the tasks that read or write them.
import type { SqlRunner } from "@cairn/db";
import { LIVE } from "../state-entries.ts";
import { decodeListCursor, listPage } from "./cursor.ts";

export interface TaskRef {
  dagId: string;
  taskId: string;
}

export interface AssetItem {
  name: string;
  uri: string;
  group: string;
  active: boolean;
  keys: number;
  inlets: TaskRef[];
  outlets: TaskRef[];
}

const FILTER = `($1::text IS NULL OR strpos(lower(a.name), lower($1)) > 0 OR strpos(lower(a.uri), lower($1)) > 0)
  AND ($2::boolean IS NULL OR a.active = $2)`;

const tasks = (direction: "inlet" | "outlet") => `COALESCE((
    SELECT json_agg(json_build_object('dagId', ta.dag_id, 'taskId', ta.task_id) ORDER BY ta.dag_id, ta.task_id)
    FROM task_asset ta WHERE ta.asset_id = a.id AND ta.direction = '${direction}'), '[]'::json)`;

const PAGE_SQL = `SELECT a.name, a.uri, a."group", a.active,
  (SELECT count(*)::int FROM asset_state s WHERE s.asset_id = a.id AND ${LIVE}) AS keys,
  ${tasks("inlet")} AS inlets,
  ${tasks("outlet")} AS outlets
FROM asset a
WHERE ${FILTER} AND ($3::text IS NULL OR a.name > $3)
ORDER BY a.name LIMIT $4`;

const COUNT_SQL = `SELECT count(*)::int AS total FROM asset a WHERE ${FILTER}`;

export async function listAssets(
  sql: SqlRunner,
  input: { search?: string | undefined; active?: boolean | undefined; limit: number; cursor?: string | null },
) {
  const after = decodeListCursor<[string]>(input.cursor, ["string"]);
  const filter = [input.search || null, input.active ?? null];
  const [rows, [count]] = await Promise.all([
    sql.query<AssetItem>(PAGE_SQL, [...filter, after?.[0] ?? null, input.limit + 1], "operator_asset_list"),
    sql.query<{ total: number }>(COUNT_SQL, filter, "operator_asset_count"),
  ]);
  return listPage(
    rows,
    input.limit,
    count?.total ?? 0,
    (row) => row,
    (row) => [row.name],
  );
}
