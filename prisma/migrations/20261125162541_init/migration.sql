-- CreateTable
CREATE TABLE "dag_run" (
    "id" BIGSERIAL NOT NULL,
    "dag_id" TEXT NOT NULL,
    "run_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dag_run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task_instance" (
    "id" UUID NOT NULL,
    "dag_run_id" BIGINT NOT NULL,
    "task_id" TEXT NOT NULL,
    "map_index" INTEGER NOT NULL DEFAULT -1,
    "try_number" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "task_instance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "asset" (
    "id" BIGSERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "uri" TEXT NOT NULL,
    "group" TEXT NOT NULL DEFAULT '',
    "active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "asset_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task_asset" (
    "dag_id" TEXT NOT NULL,
    "task_id" TEXT NOT NULL,
    "asset_id" BIGINT NOT NULL,
    "direction" TEXT NOT NULL,

    CONSTRAINT "task_asset_pkey" PRIMARY KEY ("dag_id","task_id","asset_id","direction")
);

-- CreateTable
CREATE TABLE "task_state" (
    "dag_run_id" BIGINT NOT NULL,
    "task_id" TEXT NOT NULL,
    "map_index" INTEGER NOT NULL,
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "task_state_pkey" PRIMARY KEY ("dag_run_id","task_id","map_index","key")
);

-- CreateTable
CREATE TABLE "asset_state" (
    "asset_id" BIGINT NOT NULL,
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    "writer_kind" TEXT NOT NULL,
    "writer_dag_id" TEXT,
    "writer_run_id" TEXT,
    "writer_task_id" TEXT,
    "writer_map_index" INTEGER,

    CONSTRAINT "asset_state_pkey" PRIMARY KEY ("asset_id","key")
);

-- CreateIndex
CREATE UNIQUE INDEX "dag_run_dag_id_run_id_key" ON "dag_run"("dag_id", "run_id");

-- CreateIndex
CREATE UNIQUE INDEX "task_instance_dag_run_id_task_id_map_index_try_number_key" ON "task_instance"("dag_run_id", "task_id", "map_index", "try_number");

-- CreateIndex
CREATE UNIQUE INDEX "asset_name_key" ON "asset"("name");

-- CreateIndex
CREATE UNIQUE INDEX "asset_uri_key" ON "asset"("uri");

-- CreateIndex
CREATE INDEX "task_asset_asset_id_idx" ON "task_asset"("asset_id");

-- CreateIndex
CREATE INDEX "task_state_expires_at_idx" ON "task_state"("expires_at");

-- CreateIndex
CREATE INDEX "asset_state_expires_at_idx" ON "asset_state"("expires_at");

-- AddForeignKey
ALTER TABLE "task_instance" ADD CONSTRAINT "task_instance_dag_run_id_fkey" FOREIGN KEY ("dag_run_id") REFERENCES "dag_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_asset" ADD CONSTRAINT "task_asset_asset_id_fkey" FOREIGN KEY ("asset_id") REFERENCES "asset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_state" ADD CONSTRAINT "task_state_dag_run_id_fkey" FOREIGN KEY ("dag_run_id") REFERENCES "dag_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "asset_state" ADD CONSTRAINT "asset_state_asset_id_fkey" FOREIGN KEY ("asset_id") REFERENCES "asset"("id") ON DELETE CASCADE ON UPDATE CASCADE;
