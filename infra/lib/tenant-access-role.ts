import { Stack } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";

/** Session tag carrying the tenant; IAM policy variables below read it back. */
export const TENANT_TAG = "tenant_id";
const TENANT = `\${aws:PrincipalTag/${TENANT_TAG}}`;
/**
 * Tenant ids are `t_` plus 20 lower-case alphanumerics (src/domain/tenant.ts). Pinning the tag's shape in
 * the trust policy means a session can only ever be tagged with something that is a tenant id.
 */
export const TENANT_TAG_PATTERN = `t_${"?".repeat(20)}`;

/** Item-level DynamoDB actions; no Scan (it has no leading key, so the LeadingKeys condition would not bind it). */
export const TENANT_DYNAMODB_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:ConditionCheckItem",
];

export interface TenantAccessRoleProps {
  /** The only principals that may assume the role (the function roles). */
  readonly assumedBy: readonly iam.IRole[];
  readonly bucket: s3.IBucket;
  readonly bucketKey: kms.IKey;
  readonly tables: readonly dynamodb.ITable[];
}

/**
 * TenantAccessRole: the functions assume it per request with the session tag `tenant_id=<tenant>`, and
 * the credentials they get back reach only that tenant's S3 prefix and DynamoDB partitions. A bug that
 * computes the wrong key then fails with AccessDenied instead of reading another tenant's data.
 */
export class TenantAccessRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: TenantAccessRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (props.assumedBy.length === 0) throw new Error("TenantAccessRole needs at least one principal");

    // AssumeRole and TagSession under one set of conditions: exactly one session tag, tenant_id, shaped
    // like a tenant id. Only the function roles are trusted.
    const trusted = props.assumedBy.map((role) =>
      new iam.PrincipalWithConditions(new iam.ArnPrincipal(role.roleArn), {
        Null: { [`aws:RequestTag/${TENANT_TAG}`]: "false" },
        StringLike: { [`aws:RequestTag/${TENANT_TAG}`]: TENANT_TAG_PATTERN },
        "ForAllValues:StringEquals": { "aws:TagKeys": [TENANT_TAG] },
      }).withSessionTags(),
    );
    this.role = new iam.Role(this, "Role", {
      description: "Per-tenant credentials for Enclave functions: tagged sessions reach one tenant's data only",
      assumedBy: new iam.CompositePrincipal(...trusted),
    });

    const tenantObjects = props.bucket.arnForObjects(`tenants/${TENANT}/*`);
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "TenantObjects",
        // Versions too: deleting an organisation removes every version of its files, not only the current one.
        actions: [
          "s3:GetObject",
          "s3:PutObject",
          "s3:DeleteObject",
          "s3:DeleteObjectVersion",
          "s3:AbortMultipartUpload",
        ],
        resources: [tenantObjects],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ListTenantPrefix",
        actions: ["s3:ListBucket", "s3:ListBucketVersions"],
        resources: [props.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`tenants/${TENANT}/*`] } },
      }),
    );
    // The bucket's key, only as S3 uses it on this role's behalf.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "BucketKeyViaS3",
        actions: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        resources: [props.bucketKey.keyArn],
        conditions: { StringEquals: { "kms:ViaService": `s3.${stack.region}.${stack.urlSuffix}` } },
      }),
    );
    // Tenant-owned items have a partition key that is the tenant id or starts with `<tenant id>#`.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "TenantPartitions",
        actions: TENANT_DYNAMODB_ACTIONS,
        resources: props.tables.map((t) => t.tableArn),
        conditions: {
          "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [TENANT, `${TENANT}#*`] },
        },
      }),
    );
  }
}
