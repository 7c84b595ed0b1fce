// attache/client: the browser side of direct uploads. Framework-free ESM.
export { DirectUpload, type DirectUploadOptions, type DirectUploadProgress } from './DirectUpload.ts';
export { DirectUploadError } from './http.ts';
