-- CreateTable
CREATE TABLE "watch_interest" (
    "id" UUID NOT NULL,
    "server_id" TEXT NOT NULL,
    "plane" TEXT NOT NULL,
    "dag_run_id" BIGINT,
    "task_id" TEXT,
    "map_index" INTEGER,
    "asset_id" BIGINT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "watch_interest_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "watch_interest_dag_run_id_idx" ON "watch_interest"("dag_run_id");

-- CreateIndex
CREATE INDEX "watch_interest_asset_id_idx" ON "watch_interest"("asset_id");

-- CreateIndex
CREATE INDEX "watch_interest_plane_idx" ON "watch_interest"("plane");

-- Watch (spec §6): writes in a watched scope notify the channel cairn_state, in commit order, with the
-- writing transaction's id so a watcher can tell whether its snapshot already holds the change. The
-- triggers are created disabled: a server enables a plane's trigger when the first interest row appears
-- (ALTER TABLE also waits for the writes in flight, which makes it the barrier a new watch needs) and
-- disables it when the last one goes, so writes cost nothing while nobody watches.

CREATE FUNCTION cairn_task_state_watched(run BIGINT, task TEXT, idx INTEGER) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM watch_interest i
                 WHERE i.dag_run_id = run AND (i.task_id IS NULL OR (i.task_id = task AND i.map_index = idx)))
      OR EXISTS (SELECT 1 FROM watch_interest i WHERE i.plane = 'task_all')
$$;

CREATE FUNCTION cairn_asset_state_watched(asset BIGINT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM watch_interest i WHERE i.asset_id = asset)
      OR EXISTS (SELECT 1 FROM watch_interest i WHERE i.plane = 'asset_all')
$$;

-- Why a row was deleted: expired (it had expired: cleanup or a write over it), or what the deleting
-- statement said through set_config('cairn.delete_cause', ..., true) ('clear'), else 'delete'.
CREATE FUNCTION cairn_delete_cause(expires_at TIMESTAMPTZ) RETURNS TEXT
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN expires_at IS NOT NULL AND expires_at <= now() THEN 'expired'
              ELSE coalesce(nullif(current_setting('cairn.delete_cause', true), ''), 'delete') END
$$;

-- NOTIFY payloads are capped at 8000 bytes: values (and writers) go along only while the payload stays
-- under 7900 bytes; otherwise "big" tells the listener to read the row.
CREATE FUNCTION cairn_notify_payload(full_payload JSONB, minimal JSONB) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN octet_length(full_payload::text) <= 7900 THEN full_payload::text
              ELSE (minimal || '{"big": true}'::jsonb)::text END
$$;

CREATE FUNCTION cairn_notify_task_state() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
  r task_state;
  base JSONB;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  base := jsonb_build_object('plane', 'task', 'dagRunId', r.dag_run_id::text, 'taskId', r.task_id,
    'mapIndex', r.map_index, 'key', r.key, 'xid', pg_current_xact_id()::text);
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('cairn_state', (base || jsonb_build_object('op', 'delete', 'version', r.version,
      'cause', cairn_delete_cause(r.expires_at)))::text);
  ELSE
    base := base || jsonb_build_object('op', 'set', 'version', r.version, 'updatedAt', r.updated_at,
      'expiresAt', r.expires_at);
    PERFORM pg_notify('cairn_state', cairn_notify_payload(base || jsonb_build_object('value', r.value), base));
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION cairn_notify_asset_state() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
  r asset_state;
  base JSONB;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  base := jsonb_build_object('plane', 'asset', 'assetId', r.asset_id::text, 'key', r.key,
    'xid', pg_current_xact_id()::text);
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('cairn_state', (base || jsonb_build_object('op', 'delete', 'version', r.version,
      'cause', cairn_delete_cause(r.expires_at)))::text);
  ELSE
    base := base || jsonb_build_object('op', 'set', 'version', r.version, 'updatedAt', r.updated_at,
      'expiresAt', r.expires_at);
    PERFORM pg_notify('cairn_state', cairn_notify_payload(base || jsonb_build_object('value', r.value,
      'writer', jsonb_build_object('kind', r.writer_kind, 'dagId', r.writer_dag_id, 'runId', r.writer_run_id,
        'taskId', r.writer_task_id, 'mapIndex', r.writer_map_index)), base));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER cairn_task_state_notify_write AFTER INSERT OR UPDATE ON task_state FOR EACH ROW
  WHEN (cairn_task_state_watched(NEW.dag_run_id, NEW.task_id, NEW.map_index))
  EXECUTE FUNCTION cairn_notify_task_state();
CREATE TRIGGER cairn_task_state_notify_delete AFTER DELETE ON task_state FOR EACH ROW
  WHEN (cairn_task_state_watched(OLD.dag_run_id, OLD.task_id, OLD.map_index))
  EXECUTE FUNCTION cairn_notify_task_state();
CREATE TRIGGER cairn_asset_state_notify_write AFTER INSERT OR UPDATE ON asset_state FOR EACH ROW
  WHEN (cairn_asset_state_watched(NEW.asset_id))
  EXECUTE FUNCTION cairn_notify_asset_state();
CREATE TRIGGER cairn_asset_state_notify_delete AFTER DELETE ON asset_state FOR EACH ROW
  WHEN (cairn_asset_state_watched(OLD.asset_id))
  EXECUTE FUNCTION cairn_notify_asset_state();

ALTER TABLE task_state DISABLE TRIGGER cairn_task_state_notify_write;
ALTER TABLE task_state DISABLE TRIGGER cairn_task_state_notify_delete;
ALTER TABLE asset_state DISABLE TRIGGER cairn_asset_state_notify_write;
ALTER TABLE asset_state DISABLE TRIGGER cairn_asset_state_notify_delete;
