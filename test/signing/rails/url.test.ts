import { describe, expect, it } from 'vitest';
import { railsPathGlob, railsPathParam, railsPathSegment } from '../../../src/signing/rails/url.ts';

// What ActionDispatch::Journey::Router::Utils.escape_segment / escape_path give (checked against Rails in rails61.test.ts).
describe('railsPathSegment and railsPathGlob', () => {
  it.each([
    ['eyJh+b/c=--0f', 'eyJh+b%2Fc=--0f', 'eyJh+b/c=--0f'],
    ['a b', 'a%20b', 'a%20b'],
    ['é😀', '%C3%A9%F0%9F%98%80', '%C3%A9%F0%9F%98%80'],
    ["-._~!$&'()*+,;=:@", "-._~!$&'()*+,;=:@", "-._~!$&'()*+,;=:@"],
    ['%?#[]"<>\\^`{|}', '%25%3F%23%5B%5D%22%3C%3E%5C%5E%60%7B%7C%7D', '%25%3F%23%5B%5D%22%3C%3E%5C%5E%60%7B%7C%7D'],
    ['dir/x.png', 'dir%2Fx.png', 'dir/x.png'],
  ])('%j → segment %j, glob %j', (value, segment, glob) => {
    expect(railsPathSegment(value)).toBe(segment);
    expect(railsPathGlob(value)).toBe(glob);
  });
});

describe('railsPathParam', () => {
  it.each([
    ['eyJh+b%2Fc=--0f', 'eyJh+b/c=--0f'], ['eyJh+b%2fc=', 'eyJh+b/c='], ['a+b', 'a+b'], ['%C3%A9', 'é'],
    ['100%', '100%'], ['%zz%4', '%zz%4'], ['plain', 'plain'],
  ])('%j → %j', (segment, value) => {
    expect(railsPathParam(segment)).toBe(value);
  });

  it('inverts railsPathSegment', () => {
    for (const value of ['ab/c+d==--ef', 'a b&c', '%2F', 'é/😀']) expect(railsPathParam(railsPathSegment(value))).toBe(value);
  });
});
