import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProcessingError } from '../../src/index.ts';
import { Tools } from '../../src/representations/tools.ts';

/** Every external program runs through Tools: here with stand-ins from coreutils in the tools' places. */
describe('running external tools', () => {
  const tools = (paths: Record<string, string>, timeout = 30) => new Tools({ paths, timeout });

  it('passes arguments as they are, with no shell to interpret them', async () => {
    const marker = `/tmp/attache-no-shell-${process.pid}`;
    const { stdout } = await tools({ pdfinfo: '/bin/echo' }).run('pdfinfo', ['$(id)', `; touch ${marker}`, '`whoami`']);
    expect(stdout.toString()).toBe(`$(id) ; touch ${marker} \`whoami\`\n`);
    expect(existsSync(marker)).toBe(false);
  });

  it('closes stdin: a tool that reads it sees its end at once', async () => {
    const { stdout } = await tools({ pdftoppm: '/bin/cat' }).run('pdftoppm', []);
    expect(stdout.length).toBe(0);
  });

  it('kills a tool that runs past the timeout', async () => {
    const started = Date.now();
    const error = await tools({ ffmpeg: '/bin/sleep' }, 1).run('ffmpeg', ['20']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessingError);
    expect(error).toMatchObject({ reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('kills a tool that writes more than the output bound', async () => {
    const error = await tools({ ffprobe: '/usr/bin/yes' }).run('ffprobe', [], { maxOutput: 1024 * 1024 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_PROCESSING', reason: 'output_too_large' });
  });

  it.each([
    ['a missing tool', { ffprobe: '/nonexistent/ffprobe' }, 'tool_missing'],
    ['a tool that fails', { ffprobe: '/bin/false' }, 'tool_failed'],
  ])('reports %s with a typed reason', async (_label, paths, reason) => {
    await expect(tools(paths).run('ffprobe', [])).rejects.toMatchObject({ code: 'E_PROCESSING', reason });
  });

  it('knows whether a tool is installed without running it', () => {
    expect(tools({ pdftoppm: '/bin/cat' }).hasSync('pdftoppm')).toBe(true);
    expect(tools({ pdftoppm: '/nonexistent/pdftoppm' }).hasSync('pdftoppm')).toBe(false);
    expect(tools({ pdftoppm: '/tmp' }).hasSync('pdftoppm')).toBe(false);
  });
});
