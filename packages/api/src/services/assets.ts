// Admin plane: assets (name and uri both unique; inactive assets keep their state but cannot be used).
import { type Database, UNIQUE_KEYS, uniqueViolation } from "@cairn/db";
import { DomainError, notFound } from "../errors.ts";

export async function upsertAsset(
  db: Database,
  input: { name: string; uri: string; group?: string | undefined },
): Promise<{ id: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const asset = await db.prisma.asset.upsert({
        where: { name: input.name },
        create: { name: input.name, uri: input.uri, group: input.group ?? "" },
        update: {
          uri: input.uri,
          active: true,
          ...(input.group === undefined ? {} : { group: input.group }),
        },
        select: { id: true },
      });
      return { id: asset.id.toString() };
    } catch (error) {
      // The upsert is INSERT ... ON CONFLICT (name), so the uri's key is the only one it can trip. A concurrent
      // upsert of the same new asset trips it too: that asset exists now, and the next attempt updates it.
      // Only a uri held by another asset is a conflict.
      if (uniqueViolation(error)?.constraint !== UNIQUE_KEYS.assetUri) throw error;
      const owner = await db.prisma.asset.findUnique({ where: { uri: input.uri }, select: { name: true } });
      if ((owner && owner.name !== input.name) || attempt >= 3) {
        throw new DomainError(
          "conflict",
          "asset_uri_taken",
          `uri "${input.uri}" already belongs to another asset; each uri names one asset`,
        );
      }
    }
  }
}

export async function setAssetActive(
  db: Database,
  input: { name: string; active: boolean },
): Promise<{ active: boolean }> {
  const { count } = await db.prisma.asset.updateMany({
    where: { name: input.name },
    data: { active: input.active },
  });
  if (count === 0) throw notFound("asset_not_found", `asset named "${input.name}" does not exist`);
  return { active: input.active };
}

/** One statement (retried by the SqlRunner when it loses a deadlock to writers of the asset's state). */
export async function deleteAsset(db: Database, input: { name: string }): Promise<{ deleted: boolean }> {
  const rows = await db.sql.query(
    "DELETE FROM asset WHERE name = $1 RETURNING 1",
    [input.name],
    "admin_asset_delete",
  );
  return { deleted: rows.length > 0 };
}
