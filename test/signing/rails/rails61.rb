# frozen_string_literal: true
#
# Rails 6.1's ActiveStorage without railties, booted as its engine boots it, for attache's
# cross-tests (rails61.test.ts). It reads one JSON request per line on stdin and answers one JSON
# line: {"ok": result} or {"error": message}. Config comes from ENV["RAILS61_CONFIG"].

require "json"
require "base64"
require "active_support"
require "active_support/core_ext"
require "active_support/key_generator"
require "active_support/message_verifier"
require "active_support/dependencies"
require "active_record"
require "action_controller"
require "active_storage"
require "active_storage/service/registry"
require "active_storage/attached"
require "active_storage/reflection"
require "rack/mock"
require "action_dispatch/middleware/flash" # Request#flash, which the proxy controller touches
require "active_job"

CONFIG = JSON.parse(ENV.fetch("RAILS61_CONFIG"))
GEM = Gem::Specification.find_by_name("activestorage").gem_dir
%w[app/models app/controllers app/controllers/concerns app/jobs].each { |dir| ActiveSupport::Dependencies.autoload_paths << File.join(GEM, dir) }

# What ActiveStorage::Engine's initializers do (active_storage.attached, .reflection, .verifier, .services).
ActiveRecord::Base.include ActiveStorage::Attached::Model
ActiveRecord::Base.include ActiveStorage::Reflection::ActiveRecordExtensions
ActiveRecord::Reflection.singleton_class.prepend(ActiveStorage::Reflection::ReflectionExtension)

# Rails::Application#message_verifier("ActiveStorage") in 6.1: a CachingKeyGenerator over
# KeyGenerator.new(secret_key_base, iterations: 1000), default MessageVerifier options.
key_generator = ActiveSupport::CachingKeyGenerator.new(ActiveSupport::KeyGenerator.new(CONFIG.fetch("secretKeyBase"), iterations: 1000))
ActiveStorage.verifier = ActiveSupport::MessageVerifier.new(key_generator.generate_key("ActiveStorage"))
# load_defaults 7.0 changes only the key: KeyGenerator's digest becomes SHA256 (key_generator_hash_digest_class);
# 6.1's MessageVerifier code is otherwise what 7.0 runs.
VERIFIER_70 = ActiveSupport::MessageVerifier.new(
  OpenSSL::PKCS5.pbkdf2_hmac(CONFIG.fetch("secretKeyBase"), "ActiveStorage", 1000, 64, OpenSSL::Digest::SHA256.new)
)

# The serving defaults of 6.1's engine.rb (config.active_storage.*), which the redirect route applies.
ActiveStorage.content_types_to_serve_as_binary = %w[text/html text/javascript image/svg+xml application/postscript
  application/x-shockwave-flash text/xml application/xml application/xhtml+xml application/mathml+xml text/cache-manifest]
ActiveStorage.content_types_allowed_inline = %w[image/png image/gif image/jpg image/jpeg image/tiff image/bmp
  image/vnd.adobe.photoshop image/vnd.microsoft.icon application/pdf]
ActiveStorage.service_urls_expire_in = 5.minutes
ActiveStorage.binary_content_type = "application/octet-stream"

# The storage.yml both apps share: CONFIG["services"] (rails-wire.test.ts), else two Disk roots.
ActiveStorage::Blob.services = ActiveStorage::Service::Registry.new(CONFIG["services"] || {
  "local" => { "service" => "Disk", "root" => CONFIG.fetch("root") },
  "other" => { "service" => "Disk", "root" => File.join(CONFIG.fetch("root"), "other") }
})
ActiveStorage::Blob.service = ActiveStorage::Blob.services.fetch(:local)

# ActiveStorage's own config/routes.rb, drawn into a route set that stands in for Rails.application.routes.
ROUTES = ActionDispatch::Routing::RouteSet.new
module Rails
  Application = Struct.new(:routes)
  def self.application = (@application ||= Application.new(ROUTES))
end
ActiveStorage.routes_prefix = "/rails/active_storage"
ActiveStorage.resolve_model_to_route = :rails_storage_redirect
load File.join(GEM, "config/routes.rb")
ActiveStorage::Current.host = "http://example.test"

ActiveRecord::Base.establish_connection(CONFIG.fetch("databaseUrl"))
ActiveRecord::Base.connection.schema_search_path = CONFIG.fetch("schema")

# The test schema's `users` as a Rails model, for attaching on the Rails side. Jobs (analyze after
# attach) are only enqueued; the tests post without a session, as a CSRF check is the app's own.
ActiveJob::Base.queue_adapter = :test
ActionController::Base.allow_forgery_protection = false
class User < ActiveRecord::Base
  has_one_attached :avatar
end

# Ruby values as tagged JSON, so the tests see Symbols, Integers and encodings as Ruby has them.
def tag(value)
  case value
  when nil, true, false then value
  when Integer then { "int" => value.to_s }
  when Symbol then { "sym" => value.to_s }
  when String then { "str" => value.dup.force_encoding(Encoding::UTF_8).scrub, "enc" => value.encoding.name }
  when Array then { "ary" => value.map { |item| tag(item) } }
  when Hash then { "hash" => value.map { |key, item| [tag(key), tag(item)] } }
  else { "object" => value.class.name }
  end
end

# The inverse of tag, for values the tests want Ruby to sign.
def untag(value)
  case value
  when Hash
    if value.key?("int") then Integer(value["int"])
    elsif value.key?("sym") then value["sym"].to_sym
    elsif value.key?("hash") then value["hash"].to_h { |key, item| [untag(key), untag(item)] }
    else raise ArgumentError, "unknown tag #{value.keys}"
    end
  when Array then value.map { |item| untag(item) }
  else value
  end
end

def verifier(format) = format == "7.0" ? VERIFIER_70 : ActiveStorage.verifier

def respond(response)
  { "status" => response.status, "headers" => response.headers.to_h, "body" => Base64.strict_encode64(response.body) }
end

def service(name) = ActiveStorage::Blob.services.fetch(name || "local")

OPS = {
  "signed_id" => lambda do |r|
    blob = ActiveStorage::Blob.find(r["id"])
    # Blob#signed_id takes no arguments in 6.1; the expiring form is ActiveRecord::SignedId's.
    r["expiresIn"] ? ActiveRecord::SignedId.instance_method(:signed_id).bind(blob).call(expires_in: r["expiresIn"], purpose: :blob_id) : blob.signed_id
  end,
  "find_signed" => ->(r) { ActiveStorage::Blob.find_signed(r["message"])&.id },
  "verified" => ->(r) { tag(verifier(r["format"]).verified(r["message"], purpose: r["purpose"].to_sym)) },
  "generate" => ->(r) { verifier(r["format"]).generate(untag(r["value"]), purpose: r["purpose"].to_sym, expires_in: r["expiresIn"]) },
  "disk_url" => lambda do |r|
    service(r["service"]).url(r["key"], expires_in: r["expiresIn"], filename: ActiveStorage::Filename.new(r["filename"]),
      content_type: r["contentType"], disposition: r["disposition"].to_sym)
  end,
  "upload_url" => lambda do |r|
    service(r["service"]).url_for_direct_upload(r["key"], expires_in: r["expiresIn"], content_type: r["contentType"],
      content_length: r["contentLength"], checksum: r["checksum"])
  end,
  "route" => ->(r) { ROUTES.recognize_path(r["path"], method: r["method"] || "GET").transform_keys(&:to_s) },
  "blob_path" => ->(r) { ROUTES.url_helpers.rails_service_blob_path(r["signedId"], r["filename"]) },
  "get" => ->(r) { respond(Rack::MockRequest.new(ROUTES).get(r["path"])) },
  "post_json" => ->(r) { respond(Rack::MockRequest.new(ROUTES).post(r["path"], input: JSON.generate(r["body"]), "CONTENT_TYPE" => "application/json")) },
  # What DirectUploadsController#create renders, for a blob on any service (the controller itself uses the default one).
  "direct_upload" => lambda do |r|
    blob = ActiveStorage::Blob.create_before_direct_upload!(filename: r["filename"], byte_size: r["byteSize"], checksum: r["checksum"],
      content_type: r["contentType"], service_name: r["service"])
    blob.as_json(root: false, methods: :signed_id).merge(direct_upload: { url: blob.service_url_for_direct_upload, headers: blob.service_headers_for_direct_upload })
  end,
  "download" => ->(r) { Base64.strict_encode64(ActiveStorage::Blob.find(r["id"]).download) },
  "attach" => lambda do |r|
    user = User.find(r["userId"])
    user.avatar.attach(r["signedId"])
    user.reload.avatar.blob.id
  end,
  "put" => lambda do |r|
    respond(Rack::MockRequest.new(ROUTES).put(r["path"], input: Base64.strict_decode64(r["body"]), "CONTENT_TYPE" => r["contentType"]))
  end,
}.freeze

STDOUT.sync = true
STDIN.each_line do |line|
  request = JSON.parse(line)
  begin
    puts JSON.generate("ok" => OPS.fetch(request.fetch("op")).call(request))
  rescue StandardError, ScriptError => e
    puts JSON.generate("error" => "#{e.class}: #{e.message}")
  end
end
