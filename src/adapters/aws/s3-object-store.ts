import type { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { AppError } from "../../domain/errors.js";
import { isTenantId, type TenantId } from "../../domain/tenant.js";
import type { ObjectStore } from "../../ports/object-store.js";
import { guarded } from "./aws-errors.js";
import type { TenantClients } from "./tenant-credentials.js";

const SAFE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
const WHAT = "File storage";

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
}
