import type { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { AppError } from "../../domain/errors.js";
import { isTenantId, type TenantId } from "../../domain/tenant.js";
import type { ObjectStore } from "../../ports/object-store.js";
import { errorName, guarded } from "./aws-errors.js";
import type { TenantClients } from "./tenant-credentials.js";

const SAFE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
const WHAT = "File storage";
/** DeleteObjects takes at most 1,000 keys; a listing page returns at most as many. */
const DELETE_BATCH = 1000;
/** What a backend without object versioning answers a version listing (s3rver: MethodNotAllowed). */
const NO_VERSIONING = new Set(["NotImplemented", "MethodNotAllowed"]);

export interface S3ObjectStoreOptions {
  bucket: string;
  /** SSE-KMS with this key (and an S3 bucket key); SSE-S3 (AES256) when unset. */
  kmsKeyId?: string;
  /** Multipart part size and parts in flight: an upload buffers at most their product. */
  partSize?: number;
  queueSize?: number;
}

/**
 * Files in S3 under `tenants/<tenant_id>/<key>`, read and written with the tenant's scoped client.
 * Uploads go through lib-storage (multipart past one part, parts streamed with bounded concurrency);
 * downloads are read from the response stream.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly clients: TenantClients<S3Client>,
    private readonly options: S3ObjectStoreOptions,
  ) {}

  key(tenant: TenantId, key: string): string {
    if (!isTenantId(tenant))
      throw new AppError("internal", "Something went wrong on our side.", { detail: "invalid tenant id" });
    if (!SAFE_KEY.test(key) || key.split("/").some((p) => p === "." || p === "..")) {
      throw new AppError("bad_request", "Invalid file key.", { detail: `unsafe object key ${JSON.stringify(key)}` });
    }
    return `tenants/${tenant}/${key}`;
  }

  async put(tenant: TenantId, key: string, data: Uint8Array, contentType?: string): Promise<void> {
    const Key = this.key(tenant, key);
    const encryption = this.options.kmsKeyId
      ? { ServerSideEncryption: "aws:kms" as const, SSEKMSKeyId: this.options.kmsKeyId, BucketKeyEnabled: true }
      : { ServerSideEncryption: "AES256" as const };
    const upload = new Upload({
      client: this.clients.forTenant(tenant),
      params: {
        Bucket: this.options.bucket,
        Key,
        Body: data,
        ...(contentType ? { ContentType: contentType } : {}),
        ...encryption,
      },
      partSize: this.options.partSize ?? 8 * 1024 * 1024,
      queueSize: this.options.queueSize ?? 4,
      leavePartsOnError: false,
    });
    await guarded(WHAT, () => upload.done());
  }

  async get(tenant: TenantId, key: string): Promise<Buffer> {
    const Key = this.key(tenant, key);
    return guarded(WHAT, async () => {
      try {
        const response = await this.clients
          .forTenant(tenant)
          .send(new GetObjectCommand({ Bucket: this.options.bucket, Key }));
        if (!response.Body) return Buffer.alloc(0);
        const chunks: Buffer[] = [];
        for await (const chunk of response.Body as Readable)
          chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
        return Buffer.concat(chunks);
      } catch (error) {
        const name = (error as { name?: string }).name;
        if (name === "NoSuchKey" || name === "NotFound") throw new AppError("not_found", "File not found.");
        throw error;
      }
    });
  }

  async delete(tenant: TenantId, key: string): Promise<void> {
    const Key = this.key(tenant, key);
    await guarded(WHAT, () =>
      this.clients.forTenant(tenant).send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key })),
    );
  }

  /**
   * Erasure of the whole `tenants/<tenant>/` prefix. The production bucket is versioned, and in a versioned
   * bucket deleting a key only adds a delete marker: every earlier version stays, a full copy, until the
   * noncurrent-version lifecycle rule expires it days later. So every version and every delete marker is
   * deleted by version id, which removes the data at once. (The tenant role needs s3:ListBucketVersions
   * and s3:DeleteObjectVersion for this.) A backend that cannot list versions keeps none, so there deleting
   * the current objects removes everything: the fallback for emulators such as s3rver.
   */
  async deleteTenant(tenant: TenantId): Promise<void> {
    const prefix = this.key(tenant, "x").slice(0, -1);
    const client = this.clients.forTenant(tenant);
    await guarded(WHAT, async () => {
      try {
        await this.deleteVersions(client, prefix);
      } catch (error) {
        if (!NO_VERSIONING.has(errorName(error))) throw error;
        await this.deleteCurrent(client, prefix);
      }
    });
  }

  private async deleteVersions(client: S3Client, prefix: string): Promise<void> {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      // No paginator exists for ListObjectVersions (two markers), hence the loop.
      const page = await client.send(
        new ListObjectVersionsCommand({
          Bucket: this.options.bucket,
          Prefix: prefix,
          MaxKeys: DELETE_BATCH,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
        }),
      );
      const entries = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
      await this.deleteObjects(
        client,
        entries.flatMap((e) => (e.Key ? [{ Key: e.Key, ...(e.VersionId ? { VersionId: e.VersionId } : {}) }] : [])),
      );
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
  }

  private async deleteCurrent(client: S3Client, prefix: string): Promise<void> {
    const pages = paginateListObjectsV2(
      { client, pageSize: DELETE_BATCH },
      { Bucket: this.options.bucket, Prefix: prefix },
    );
    for await (const page of pages)
      await this.deleteObjects(
        client,
        (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : [])),
      );
  }

  /** DeleteObjects reports failures per key in a successful response: any of them fails the erasure. */
  private async deleteObjects(client: S3Client, objects: ObjectIdentifier[]): Promise<void> {
    for (let i = 0; i < objects.length; i += DELETE_BATCH) {
      const result = await client.send(
        new DeleteObjectsCommand({
          Bucket: this.options.bucket,
          Delete: { Objects: objects.slice(i, i + DELETE_BATCH), Quiet: true },
        }),
      );
      const failed = result.Errors ?? [];
      if (failed.length > 0)
        throw new AppError("dependency_unavailable", `${WHAT} is unavailable right now. Please try again later.`, {
          retryable: true,
          detail: `S3 DeleteObjects failed for ${failed.length} objects (first: ${failed[0]?.Code ?? "unknown"})`,
        });
    }
  }
}
