# Reads what attache wrote the way a Rails 6.1 app does: ActiveRecord and ActiveStorage's own
# models (Debian's ruby-activestorage, no railties), connected to the test's schema, with the
# engine's defaults and a Disk service on the test's root. Prints one JSON object per request.
#
#   ruby read_as_rails.rb DATABASE_URL SCHEMA DISK_ROOT REQUESTS_JSON
#
# REQUESTS_JSON: [{ "blob": id, "variant": "<Ruby hash literal>" | null, "preview": "<Ruby hash literal>" | null }]
require "json"
require "digest"
require "active_record"
require "active_storage"
require "active_support/dependencies"

url, schema, root, requests = ARGV
gem_root = Gem.loaded_specs["activestorage"].full_gem_path
ActiveSupport::Dependencies.autoload_paths << File.join(gem_root, "app/models")
require "active_storage/attached"
require "active_storage/reflection"
require "active_storage/service/registry"
require "active_storage/service/disk_service"
require "active_storage/previewer/poppler_pdf_previewer"
require "active_storage/previewer/mupdf_previewer"
require "active_storage/previewer/video_previewer"
ActiveRecord::Base.include(ActiveStorage::Attached::Model)
ActiveRecord::Base.include(ActiveStorage::Reflection::ActiveRecordExtensions)
ActiveRecord::Reflection.singleton_class.prepend(ActiveStorage::Reflection::ReflectionExtension)

# The engine's defaults (lib/active_storage/engine.rb), which only railties would otherwise set.
ActiveStorage.track_variants = true
ActiveStorage.variable_content_types = %w[image/png image/gif image/jpg image/jpeg image/pjpeg image/tiff image/bmp image/vnd.adobe.photoshop image/vnd.microsoft.icon image/webp]
ActiveStorage.web_image_content_types = %w[image/png image/jpeg image/jpg image/gif]
ActiveStorage.previewers = [ActiveStorage::Previewer::PopplerPDFPreviewer, ActiveStorage::Previewer::MuPDFPreviewer, ActiveStorage::Previewer::VideoPreviewer]
ActiveStorage.logger = Logger.new(nil)
ActiveStorage.verifier = ActiveSupport::MessageVerifier.new("rails-test-secret")

ActiveRecord::Base.establish_connection(url)
ActiveRecord::Base.connection.schema_search_path = schema
ActiveStorage::Blob.services = ActiveStorage::Service::Registry.new(local: { service: "Disk", root: root })
ActiveStorage::Blob.service = ActiveStorage::Blob.services.fetch(:local)

JSON.parse(requests).each do |request|
  blob = ActiveStorage::Blob.find(request["blob"])
  answer = { blob: blob.id, metadata: blob.metadata, analyzed: blob.analyzed?, identified: blob.identified?, default_format: blob.send(:default_variant_format).inspect }
  if request["variant"]
    variant = blob.variant(eval(request["variant"]))
    answer[:digest] = variant.variation.digest
    answer[:processed] = variant.send(:processed?)
    answer[:image_blob] = variant.image&.blob&.id
    answer[:image_md5] = variant.processed? ? Digest::MD5.base64digest(variant.download) : nil
  end
  if request["preview"]
    preview = blob.preview(eval(request["preview"]))
    processed = preview.send(:processed?)
    answer[:preview_image_blob] = processed ? preview.image.blob.id : nil
    answer[:preview_variant_processed] = processed ? preview.image.variant(preview.variation).send(:processed?) : false
  end
  puts JSON.generate(answer)
end
