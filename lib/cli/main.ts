/**
 * `sparsenn <command>`: dispatch, --help everywhere, --json on every command, and errors that
 * say what was wrong (exit code 1 for a failed command, 2 for bad usage).
 */
import { SparsennError } from '../errors.js';
import { helpText, parseArgs, UsageError, usageLine, type CommandSpec, type ParsedArgs } from './args.js';
import { makeContext, type CliContext, type OutStream } from './context.js';
import * as analyze from './commands/analyze.js';
import * as bench from './commands/bench.js';
import * as compileCmd from './commands/compile.js';
import * as demo from './commands/demo.js';
import * as exportCmd from './commands/export.js';
import * as finetune from './commands/finetune.js';
import * as info from './commands/info.js';
import * as prune from './commands/prune.js';

interface Command {
  spec: CommandSpec;
  run(args: ParsedArgs, ctx: CliContext): Promise<unknown>;
}

export const COMMANDS: readonly Command[] = [demo, info, prune, finetune, compileCmd, bench, analyze, exportCmd];

function overview(): string {
  const w = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 2;
  return [
    'Usage: sparsenn <command> [options]   (sparsenn <command> --help for its options)',
    '',
    'Sparse neural networks for Node.js: prune, train and run sparse models fast.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(w)}${c.spec.summary}`),
    '',
    'Every command takes --json (machine-readable result on stdout) and --help.',
    "Models: .spnn, .safetensors or .onnx files, or a built-in architecture: zoo:lenet300, zoo:cnn, zoo:mlp-block.",
  ].join('\n');
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], stdout: OutStream = process.stdout, stderr: OutStream = process.stderr): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    stdout.write(overview() + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  const json = rest.includes('--json');
  if (!command) {
    stderr.write(`sparsenn: unknown command '${name}'\n\n${overview()}\n`);
    return 2;
  }
  try {
    const args = parseArgs(command.spec, rest);
    if (args.flags['help']) {
      stdout.write(helpText(command.spec) + '\n');
      return 0;
    }
    const ctx = makeContext(json, stdout, stderr);
    const result = await command.run(args, ctx);
    if (json) stdout.write(JSON.stringify(result, (_k, v: unknown) => (v instanceof Float32Array || v instanceof Uint8Array ? Array.from(v) : v), 2) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      if (json) stdout.write(JSON.stringify({ error: { code: 'ERR_USAGE', message: e.message } }) + '\n');
      stderr.write(`sparsenn ${name}: ${e.message}\nUsage: ${usageLine(command.spec)}   (see sparsenn ${name} --help)\n`);
      return 2;
    }
    if (e instanceof SparsennError) {
      if (json) stdout.write(JSON.stringify({ error: { code: e.code, message: e.message } }) + '\n');
      stderr.write(`sparsenn ${name}: ${e.message} [${e.code}]\n`);
      return 1;
    }
    throw e;
  }
}
