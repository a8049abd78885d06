/** Command-line options of the benchmark scripts: `--name value` pairs and flags. */

export interface Arg {
  /** The option as typed, e.g. '--epochs'. */
  readonly name: string;
  /** The next argument, as the option's value. */
  value(): string;
  /** The next argument as a non-negative integer. */
  int(): number;
}

/** Walks argv option by option; value()/int() consume the option's value. */
export function* args(argv: readonly string[]): Generator<Arg> {
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    yield {
      name,
      value,
      int: () => {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 0) throw new Error(`${name} needs a non-negative integer`);
        return v;
      },
    };
  }
}
