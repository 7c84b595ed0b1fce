import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessingContext } from '../../src/representations/analyzer.ts';
import { videoAnalyzer } from '../../src/representations/media-analyzers.ts';
import { videoPreviewer } from '../../src/representations/previewers.ts';
import { Attachment, Blob, UnpreviewableError, UnrepresentableError, VariantRecord, type AnalysisSkipped } from '../../src/index.ts';
import { imageInfo, makeAudio, makeImage, makePdf, makeVideo, toolsMissing } from '../support/media.ts';
import { filesUnder } from '../support/storage.ts';
import { openGallery, type Gallery } from './fixture.ts';
import { runtimeOf } from '../../src/attache.ts';

const FIXTURE_PDF = makePdf([{ width: 200, height: 100 }, { width: 300, height: 300 }]);

async function attachReport(g: Gallery, data: Buffer, filename: string) {
  const member = await g.newMember();
  await member.report.attach({ io: data, filename });
  await g.attache.drain();
  return member;
}

describe.skipIf(toolsMissing('pdfinfo', 'pdftoppm'))('PDFs (poppler)', () => {
  let g: Gallery;
  beforeAll(async () => (g = await openGallery()));
  afterAll(() => g.close());

  it('analyzes the page count and the first page\'s size', async () => {
    const member = await attachReport(g, FIXTURE_PDF, 'report.pdf');
    expect((await member.report.blob())!.metadata).toEqual({ identified: true, analyzed: true, pages: 2, width: 200, height: 100 });
  });

  it('previews the first page: a preview_image attached to the blob, then transformed like a variant', async () => {
    const member = await attachReport(g, FIXTURE_PDF, 'report.pdf');
    const pdf = (await member.report.blob())!;
    expect(pdf.previewable()).toBe(true);
    const preview = member.report.preview({ resizeToLimit: [100, 100] });
    expect(await preview.isProcessed()).toBe(false);
    expect(await imageInfo(await preview.download())).toMatchObject({ width: 100, height: 50, format: 'png' });
    expect(await preview.url()).toMatch(/\/report\.png$/);
    const row = await g.db.dataSource.getRepository(Attachment).findOneOrFail({ where: { recordType: 'ActiveStorage::Blob', recordId: pdf.id, name: 'preview_image' }, relations: { blob: true } });
    expect(row.blob).toMatchObject({ filename: 'report.png', contentType: 'image/png', metadata: { analyzed: true, width: 200, height: 100 } });
    expect(await g.db.dataSource.getRepository(VariantRecord).countBy({ blobId: row.blobId })).toBe(1);
    // A second preview reuses the preview image; representation() picks the preview for a PDF.
    expect(await imageInfo(await member.report.representation({ resizeToLimit: [50, 50] }).download())).toMatchObject({ width: 50, height: 25 });
    expect(await g.db.dataSource.getRepository(Attachment).countBy({ recordType: 'ActiveStorage::Blob', recordId: pdf.id })).toBe(1);
    expect(await preview.isProcessed()).toBe(true);
  });

  it('purging the PDF removes its preview image, the preview\'s variants and their files', async () => {
    const member = await attachReport(g, FIXTURE_PDF, 'gone.pdf');
    await member.report.preview({ resizeToLimit: [80, 80] }).processed();
    expect((await filesUnder(g.root)).length).toBeGreaterThan(0);
    const ids = (await g.db.dataSource.getRepository(Blob).find()).map((b) => b.id);
    await member.report.purge();
    const left = (await g.db.dataSource.getRepository(Blob).find()).map((b) => b.id);
    expect(ids.length - left.length).toBe(3);
    const keys = new Set((await g.db.dataSource.getRepository(Blob).find()).map((b) => b.key));
    for (const file of await filesUnder(g.root)) expect(keys.has(file.split('/').pop()!)).toBe(true);
  });

  it('marks a broken PDF analyzed with nothing extracted and an event; its preview is a typed error', async () => {
    const skipped: AnalysisSkipped[] = [];
    g.attache.on('analysis:skipped', (e) => skipped.push(e));
    const broken = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
    const member = await attachReport(g, broken, 'broken.pdf');
    const blob = (await member.report.blob())!;
    expect(blob.metadata).toEqual({ identified: true, analyzed: true });
    expect(skipped.find((e) => e.blobId === blob.id)).toMatchObject({ analyzer: 'pdf', reason: 'tool_failed' });
    await expect(member.report.preview({ resizeToLimit: [10, 10] }).processed()).rejects.toMatchObject({ code: 'E_PROCESSING', reason: 'tool_failed' });
  });
});

describe.skipIf(toolsMissing('ffprobe', 'ffmpeg'))('videos and audio (ffmpeg)', () => {
  let g: Gallery;
  beforeAll(async () => (g = await openGallery()));
  afterAll(() => g.close());

  it('analyzes a video under Rails 7.1\'s keys', async () => {
    const member = await attachReport(g, await makeVideo({ seconds: 1, audio: true }), 'clip.mp4');
    const { metadata } = (await member.report.blob())!;
    expect(metadata).toMatchObject({ analyzed: true, width: 320, height: 240, display_aspect_ratio: [4, 3], audio: true, video: true });
    expect(metadata['duration']).toBeCloseTo(1, 0);
  });

  it('swaps width and height of a video turned by 90°', async () => {
    const member = await attachReport(g, await makeVideo({ rotate: 90 }), 'turned.mp4');
    expect((await member.report.blob())!.metadata).toMatchObject({ width: 240, height: 320 });
    expect(Math.abs(Number((await member.report.blob())!.metadata['angle']))).toBe(90);
  });

  it('analyzes audio: duration, bit_rate, sample_rate', async () => {
    const member = await attachReport(g, await makeAudio(1), 'tone.mp3');
    const { metadata } = (await member.report.blob())!;
    expect(metadata).toMatchObject({ analyzed: true, sample_rate: 44100 });
    expect(metadata['bit_rate']).toBeGreaterThan(0);
    expect(metadata['duration']).toBeCloseTo(1, 0);
  });

  it('previews a video with a frame, as a JPEG preview image', async () => {
    const member = await attachReport(g, await makeVideo(), 'clip.mp4');
    const video = (await member.report.blob())!;
    expect(video.previewable()).toBe(true);
    expect(video.variable()).toBe(false);
    const image = await video.preview({ resizeToLimit: [160, 160] }).image();
    expect(await imageInfo(await image.download())).toMatchObject({ width: 160, height: 120, format: 'jpeg' });
    expect(image.filename).toBe('clip.jpg');
  });

  it('never lets ffprobe or ffmpeg follow a playlist to another file or a URL (allowed demuxers, file protocol only)', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = await mkdtemp(path.join(os.tmpdir(), 'attache-hls-'));
    try {
      // Without the allowlists, ffprobe reads this "video" as an HLS playlist and reports the streams of the other file it names.
      const segment = path.join(dir, 'secret.ts');
      execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', '-t', '1', '-c:v', 'mpeg2video', '-f', 'mpegts', '-y', segment]);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/segment.ts`;
      const playlist = path.join(dir, 'clip.mp4');
      await writeFile(playlist, `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n${segment}\n#EXTINF:1,\n${url}\n#EXT-X-ENDLIST\n`);
      const context = (runtimeOf(g.attache).representations as unknown as { context: ProcessingContext }).context;
      const facts = { contentType: 'video/mp4', filename: 'clip.mp4', byteSize: 0 };
      await expect(videoAnalyzer.metadata(playlist, facts, context)).rejects.toMatchObject({ code: 'E_PROCESSING', reason: 'tool_failed' });
      await expect(videoPreviewer.preview(playlist, facts, context)).rejects.toMatchObject({ code: 'E_PROCESSING', reason: 'tool_failed' });
      expect(requests).toBe(0);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to preview audio, and to represent it', async () => {
    const member = await attachReport(g, await makeAudio(1), 'tone.mp3');
    const audio = (await member.report.blob())!;
    expect(audio.previewable()).toBe(false);
    expect(() => audio.preview({ resizeToLimit: [10, 10] })).toThrow(UnpreviewableError);
    expect(() => audio.representation({ resizeToLimit: [10, 10] })).toThrow(UnrepresentableError);
  });
});

describe('without the external tools', () => {
  let g: Gallery;
  const skipped: AnalysisSkipped[] = [];
  beforeAll(async () => {
    const nowhere = '/nonexistent/attache-tool';
    g = await openGallery({ representations: { paths: { ffprobe: nowhere, ffmpeg: nowhere, pdfinfo: nowhere, pdftoppm: nowhere } } });
    g.attache.on('analysis:skipped', (e) => skipped.push(e));
  });
  afterAll(() => g.close());

  it('marks a PDF analyzed with nothing extracted, says the tool is missing, and reports it not previewable', async () => {
    const member = await attachReport(g, FIXTURE_PDF, 'report.pdf');
    const pdf = (await member.report.blob())!;
    expect(pdf.metadata).toEqual({ identified: true, analyzed: true });
    expect(skipped.find((e) => e.blobId === pdf.id)).toMatchObject({ analyzer: 'pdf', reason: 'tool_missing' });
    expect(pdf.previewable()).toBe(false);
    expect(() => pdf.preview({ resizeToLimit: [10, 10] })).toThrow(UnpreviewableError);
  });

  it('still analyzes and transforms images (sharp needs no external tool)', async () => {
    const member = await g.newMember();
    await member.avatar.attach({ io: await makeImage(120, 90, 'png'), filename: 'a.png' });
    await g.attache.drain();
    expect((await member.avatar.blob())!.metadata).toMatchObject({ width: 120, height: 90 });
    expect(await imageInfo(await member.avatar.variant('thumb').download())).toMatchObject({ width: 100, height: 75 });
  });
});
