// The part of istanbul-lib-instrument fuzz/coverage.ts uses (the package ships no types).
declare module 'istanbul-lib-instrument' {
  interface Instrumenter {
    instrumentSync(code: string, filename: string): string;
  }
  export function createInstrumenter(opts: { coverageVariable?: string; compact?: boolean; esModules?: boolean; produceSourceMap?: boolean }): Instrumenter;
}
