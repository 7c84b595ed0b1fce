import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { build } from 'esbuild';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Attache, hasOneAttached, type AttachedOne } from '../../src/index.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { removeDir, tempRoot } from '../support/storage.ts';
import { serve, type Served } from '../http/harness.ts';

const MIB = 1024 * 1024;
export const RAILS_SECRET = `rails-page-test-${'0123456789abcdef'.repeat(7)}`;
/** The session's CSRF token: in the page's <meta name="csrf-token">, checked by authorizeDirectUpload and the form POST. */
export const CSRF = 'the-csrf-token-of-this-session';

/** A Rails app's model: an avatar on Disk and a vault on SecureS3, both with limits. */
@Entity({ name: 'members' })
export class Member {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached({ service: 'local', maxByteSize: MIB, contentTypes: ['image/png', 'image/jpeg'], dependent: 'purge' }) declare avatar: AttachedOne;
  @hasOneAttached({ service: 'secure', maxByteSize: MIB, contentTypes: ['image/png'], dependent: 'purge' }) declare vault: AttachedOne;
}

export interface RailsPage {
  origin: string;
  attache: Attache;
  db: TestDataSource;
  member: Member;
  root: string;
  close(): Promise<void>;
}

/**
 * A page as a Rails view renders `form_with(model: member) { |f| f.file_field :avatar, direct_upload: true }`,
 * with `@rails/activestorage` started on it, served by a plain node:http app whose only storage code
 * is attache in Rails mode under Rails' prefix. `GET /?field=avatar|vault&csrf=…`; the form POSTs
 * `member[field]=<signed_id>` to `/members/:id`, which attaches it.
 */
export async function startRailsPage(secure?: Record<string, unknown>): Promise<RailsPage> {
  const db = await openTestDataSource({ entities: [Member], sql: ['CREATE TABLE members (id serial PRIMARY KEY, name varchar NOT NULL)'] });
  const root = await tempRoot('rails-page');
  const attache = await Attache.init({
    dataSource: db.dataSource,
    services: { local: { service: 'Disk', root }, ...(secure && { secure: { service: 'SecureS3', ...secure } }) },
    service: 'local',
    secret: TEST_SECRET,
    rails: { secretKeyBase: RAILS_SECRET, messageFormat: '7.1' },
  });
  const members = db.dataSource.getRepository(Member);
  const member = await members.save(members.create({ name: 'Grace' }));
  const script = await bundle();
  const files = attache.handler({ authorizeDirectUpload: (request) => (request as IncomingMessage).headers['x-csrf-token'] === CSRF });
  const served: Served = await serve((req, res) => files(req, res, () => void app(req, res).catch((error: unknown) => send(res, 500, `<body data-state="error" data-error="${escape(String(error))}">`))));

  async function app(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/') return send(res, 200, formPage(member.id, url.searchParams.get('field') ?? 'avatar', url.searchParams.get('csrf') ?? CSRF));
    if (req.method === 'GET' && url.pathname === '/activestorage.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    if (req.method === 'POST' && url.pathname === `/members/${member.id}`) return update(req, res);
    send(res, 404, 'Not found');
  }

  /** Rails' MembersController#update: the form carries the signed id in `member[field]`. */
  async function update(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await text(req));
    if (form.get('authenticity_token') !== CSRF) return send(res, 422, '<body data-state="csrf">');
    const field = form.has('member[vault]') ? 'vault' : 'avatar';
    await member[field].reset().attach(form.get(`member[${field}]`)!);
    const blob = (await member[field].blob())!;
    send(res, 200, `<body data-state="attached" data-blob-id="${blob.id}"><img id="preview" src="${escape(blob.proxyUrl())}"></body>`);
  }

  return {
    origin: served.base,
    attache,
    db,
    member,
    root,
    async close() {
      await served.close();
      await attache.close();
      await db.close();
      await removeDir(root);
    },
  };
}

function formPage(id: number, field: string, csrf: string): string {
  return `<!doctype html><html><head><meta name="csrf-token" content="${escape(csrf)}"><script src="/activestorage.js"></script></head><body>
<form action="/members/${id}" method="post" accept-charset="UTF-8">
  <input type="hidden" name="authenticity_token" value="${escape(csrf)}">
  <input type="file" id="file" name="member[${escape(field)}]" data-direct-upload-url="/rails/active_storage/direct_uploads?attachment=Member%23${encodeURIComponent(field)}">
  <button type="submit" id="save">Save</button>
</form></body></html>`;
}

/** @rails/activestorage as an app bundles it, started, with its error event recorded instead of alert(). */
async function bundle(): Promise<string> {
  const contents = `import { start, DirectUpload } from '@rails/activestorage';
start();
window.DirectUpload = DirectUpload;
addEventListener('direct-upload:error', (event) => {
  event.preventDefault();
  document.body.dataset.error = event.detail.error;
  document.body.dataset.state = 'refused';
});`;
  const result = await build({ stdin: { contents, resolveDir: path.resolve(import.meta.dirname, '../..'), loader: 'js' }, bundle: true, format: 'iife', write: false, target: 'es2020', logLevel: 'silent' });
  return result.outputFiles[0]!.text;
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(html);
}

function escape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function text(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
