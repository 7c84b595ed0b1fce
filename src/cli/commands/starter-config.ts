/** The config/storage.yml `attache install` writes: Disk for development and tests, SecureS3 commented out. */
export function starterStorageYml(): string {
  return `# attache's storage services, in the format of Rails' config/storage.yml (README: config/storage.yml).
# The default service is ATTACHE_SERVICE, or Attache.init({ service }). Check them with \`npx attache doctor\`.
local:
  service: Disk
  root: <%= Rails.root.join("storage") %>

test:
  service: Disk
  root: <%= Rails.root.join("tmp/storage") %>

# Every object encrypted with your KMS key, and each write checked (README: SecureS3):
# secure:
#   service: SecureS3
#   bucket: <%= ENV['S3_BUCKET'] %>
#   region: <%= ENV['AWS_REGION'] %>
#   kms_key_id: <%= ENV['S3_KMS_KEY_ID'] %>
#   access_key_id: <%= ENV['AWS_ACCESS_KEY_ID'] %>
#   secret_access_key: <%= ENV['AWS_SECRET_ACCESS_KEY'] %>
`;
}
