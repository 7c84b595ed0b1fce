import { CreateBucketCommand, HeadBucketCommand, PutBucketCorsCommand, S3Client } from '@aws-sdk/client-s3';
import type { Attache } from '../../src/index.ts';

/**
 * A browser PUTs straight to the bucket from the app's origin, so the bucket must allow it (CORS).
 * On Disk nothing is needed: the PUT goes to the app itself. Real apps set this once in their
 * infrastructure code; the example does it at start-up against the S3_* environment.
 */
export async function allowBrowserUploads(attache: Attache, origin: string): Promise<void> {
  const settings = attache.defaultService === 'secure' ? process.env : null;
  if (!settings?.S3_ENDPOINT) return;
  const client = new S3Client({
    endpoint: settings.S3_ENDPOINT,
    region: settings.S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: settings.S3_ACCESS_KEY_ID ?? '', secretAccessKey: settings.S3_SECRET_ACCESS_KEY ?? '' },
    // S3-compatible servers (RGW, MinIO) need the SDK's own checksums off, as attache's client has them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = settings.S3_BUCKET ?? 'attache-direct-upload';
  try {
    await client.send(new HeadBucketCommand({ Bucket })).catch(() => client.send(new CreateBucketCommand({ Bucket })));
    await client.send(
      new PutBucketCorsCommand({
        Bucket,
        CORSConfiguration: { CORSRules: [{ AllowedOrigins: [origin], AllowedMethods: ['PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 600 }] },
      }),
    );
  } finally {
    client.destroy();
  }
}
