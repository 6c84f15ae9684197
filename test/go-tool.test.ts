import { describe, expect, it } from 'vitest';
import { goModuleVersion } from '../cli/dev/go-tool.ts';

/**
 * How a cached Go tool's version is read (cli/dev/go-tool.ts): the main module's line of
 * `go version -m <binary>`, so a build of an older pin in .tools/ is rebuilt rather than used.
 */
describe('goModuleVersion', () => {
  it("reads the main module's version, not a dependency's", () => {
    // The head of `go version -m .tools/versitygw` for a v1.8.0 build.
    const output = [
      '.tools/versitygw: go1.26.8',
      '\tpath\tgithub.com/versity/versitygw/cmd/versitygw',
      '\tmod\tgithub.com/versity/versitygw\tv1.8.0\th1:au+wI+aybno/STsQiSm35Uu6Q6iK5MWReQxgO6SEMFc=',
      '\tdep\tgithub.com/Azure/azure-sdk-for-go/sdk/azcore\tv1.22.0\th1:aokoqcHvaGjiM3VpjKDfMMnF/8epJ+Q1HLJ7CudztqE=',
      '\tbuild\tCGO_ENABLED=0',
    ].join('\n');
    expect(goModuleVersion(output)).toBe('v1.8.0');
  });

  it('says (devel) for a build from a checkout, and nothing without a module line', () => {
    expect(goModuleVersion('x: go1.26.8\n\tpath\texample.com/x\n\tmod\texample.com/x\t(devel)\t\n')).toBe('(devel)');
    expect(goModuleVersion('x: go1.26.8\n\tpath\tcommand-line-arguments\n')).toBeUndefined();
  });
});
