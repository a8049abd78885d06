/**
 * Forward hooks (lib/nn/hooks.ts): a hook sees the inputs and output of every forward() of its
 * module, whichever container runs it (Sequential, Graph, a direct call); several hooks run in
 * the order added; removing the last hook restores the method the instance had (the prototype's,
 * with no own `forward` property left behind, or an own override); removers are idempotent;
 * withForwardHooks removes its hooks on return and on throw; gradients are unchanged by hooks.
 */
import { describe, expect, it } from 'vitest';
import { SparsennTypeError } from '../../lib/errors.js';
import { Graph } from '../../lib/nn/graph.js';
import { addForwardHook, withForwardHooks, type ForwardHook } from '../../lib/nn/hooks.js';
import { Add, ReLU } from '../../lib/nn/layers/activations.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import type { Module } from '../../lib/nn/module.js';
import { mse } from '../../lib/nn/ops/loss.js';
import { Random } from '../../lib/nn/random.js';
import { Tensor } from '../../lib/nn/tensor.js';
import { expectThrows } from '../helpers/errors.js';

const hasOwnForward = (m: Module) => Object.prototype.hasOwnProperty.call(m, 'forward');

function input(features: number, n: number, seed: number): Tensor {
  const rng = new Random(seed);
  return new Tensor(Float32Array.from({ length: features * n }, () => rng.normal()), [features, n]);
}

interface Seen {
  module: Module;
  inputs: Float32Array[];
  inputShapes: number[][];
  output: Float32Array;
}

/** A hook that records copies of what it sees. */
function recorder(): { hook: ForwardHook; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    hook: (module, inputs, output) =>
      seen.push({ module, inputs: inputs.map((t) => t.data.slice()), inputShapes: inputs.map((t) => [...t.shape]), output: output.data.slice() }),
  };
}

describe('addForwardHook', () => {
  it('sees each layer’s input and output inside a Sequential (the output of one is the input of the next)', () => {
    const fc1 = new Linear(4, 3, { rng: new Random(1) });
    const relu = new ReLU();
    const fc2 = new Linear(3, 2, { rng: new Random(2) });
    const model = new Sequential(fc1, relu, fc2);
    const x = input(4, 5, 3);
    const r = recorder();
    const removers = [fc1, relu, fc2].map((m) => addForwardHook(m, r.hook));
    const y = model.forward(x);
    expect(r.seen.map((s) => s.module)).toEqual([fc1, relu, fc2]);
    expect(r.seen[0]!.inputs).toEqual([x.data]);
    expect(r.seen[0]!.inputShapes).toEqual([[4, 5]]);
    // each layer's recorded output is what the next one received, the last is the model output
    expect(r.seen[1]!.inputs[0]).toEqual(r.seen[0]!.output);
    expect(r.seen[2]!.inputs[0]).toEqual(r.seen[1]!.output);
    expect(r.seen[2]!.output).toEqual(y.data);
    // and the outputs are what the unhooked modules compute
    for (const rm of removers) rm();
    expect(r.seen[0]!.output).toEqual(fc1.forward(x).data);
    expect(r.seen[1]!.output).toEqual(r.seen[0]!.output.map((v) => Math.max(v, 0)));
  });

  it('sees both inputs of a Graph node (a residual Add) and the node outputs the graph uses', () => {
    const g = new Graph();
    const x = g.input('x');
    const fc = g.add('fc', new Linear(3, 3, { rng: new Random(4) }), x);
    const add = new Add();
    const sum = g.add('sum', add, fc, x);
    g.output('y', sum);
    const fcModule = g.namedModules().find(([n]) => n === 'fc')![1];
    const r = recorder();
    const rmFc = addForwardHook(fcModule, r.hook);
    const rmAdd = addForwardHook(add, r.hook);
    const xin = input(3, 2, 5);
    const y = g.forward(xin);
    expect(r.seen.map((s) => s.module)).toEqual([fcModule, add]);
    expect(r.seen[1]!.inputs).toHaveLength(2);
    expect(r.seen[1]!.inputs[0]).toEqual(r.seen[0]!.output);
    expect(r.seen[1]!.inputs[1]).toEqual(xin.data);
    expect(r.seen[1]!.output).toEqual(y.data);
    // the residual sum, computed here
    expect(Array.from(y.data)).toEqual(Array.from(r.seen[0]!.output, (v, i) => Math.fround(v + xin.data[i]!)));
    rmFc();
    rmAdd();
    expect(hasOwnForward(fcModule)).toBe(false);
    expect(hasOwnForward(add)).toBe(false);
  });

  it('runs several hooks in the order added; removing one keeps the others; the last removal restores the prototype method', () => {
    const fc = new Linear(2, 2, { rng: new Random(6) });
    const proto = Object.getPrototypeOf(fc).forward;
    expect(hasOwnForward(fc)).toBe(false);
    const order: string[] = [];
    const rmA = addForwardHook(fc, () => order.push('a'));
    const rmB = addForwardHook(fc, () => order.push('b'));
    expect(hasOwnForward(fc)).toBe(true);
    fc.forward(input(2, 1, 7));
    expect(order).toEqual(['a', 'b']);
    rmA();
    rmA(); // idempotent: must not remove b
    fc.forward(input(2, 1, 7));
    expect(order).toEqual(['a', 'b', 'b']);
    rmB();
    expect(hasOwnForward(fc)).toBe(false);
    expect(fc.forward).toBe(proto);
    fc.forward(input(2, 1, 7));
    expect(order).toEqual(['a', 'b', 'b']);
    // hooking again after a full removal works
    const rmC = addForwardHook(fc, () => order.push('c'));
    fc.call(input(2, 1, 7));
    expect(order).toEqual(['a', 'b', 'b', 'c']);
    rmC();
    expect(hasOwnForward(fc)).toBe(false);
  });

  it('restores an instance’s own forward override rather than deleting it', () => {
    const fc = new Linear(2, 2, { rng: new Random(8) });
    const base = fc.forward.bind(fc);
    const own = (x: Tensor) => base(x);
    fc.forward = own;
    const rm = addForwardHook(fc, () => {});
    expect(fc.forward).not.toBe(own);
    rm();
    expect(hasOwnForward(fc)).toBe(true);
    expect(fc.forward).toBe(own);
  });

  it('a hook that removes itself while running runs once and leaves the other hooks running', () => {
    const fc = new Linear(2, 2, { rng: new Random(9) });
    let calls = 0;
    const rm = addForwardHook(fc, () => {
      calls++;
      rm();
    });
    const other: number[] = [];
    const rm2 = addForwardHook(fc, () => other.push(1));
    fc.forward(input(2, 1, 1));
    fc.forward(input(2, 1, 1));
    expect(calls).toBe(1);
    expect(other).toEqual([1, 1]);
    rm2();
    expect(hasOwnForward(fc)).toBe(false);
  });

  it('leaves gradients unchanged', () => {
    const make = () => new Sequential(new Linear(3, 4, { rng: new Random(10) }), new ReLU(), new Linear(4, 2, { rng: new Random(11) }));
    const x = input(3, 6, 12);
    const target = input(2, 6, 13).data;
    const plain = make();
    mse(plain.forward(x), target).backward();
    const hooked = make();
    const rms = hooked.namedModules().filter(([n]) => n !== '').map(([, m]) => addForwardHook(m, () => {}));
    mse(hooked.forward(x), target).backward();
    rms.forEach((r) => r());
    const gp = plain.parameters().map((p) => p.grad);
    const gh = hooked.parameters().map((p) => p.grad);
    expect(gh).toEqual(gp);
  });

  it('rejects a non-module and a non-function hook with ERR_TYPE', () => {
    expectThrows(() => addForwardHook({} as Module, () => {}), SparsennTypeError, 'ERR_TYPE', 'not a module');
    expectThrows(() => addForwardHook(new ReLU(), 42 as unknown as ForwardHook), SparsennTypeError, 'ERR_TYPE', 'not a function');
  });
});

describe('withForwardHooks', () => {
  it('hooks every module for the duration of fn and returns fn’s result', () => {
    const fc1 = new Linear(2, 3, { rng: new Random(14) });
    const fc2 = new Linear(3, 1, { rng: new Random(15) });
    const model = new Sequential(fc1, new ReLU(), fc2);
    const r = recorder();
    const out = withForwardHooks([fc1, fc2], r.hook, () => {
      expect(hasOwnForward(fc1) && hasOwnForward(fc2)).toBe(true);
      return model.forward(input(2, 3, 16)).data.slice();
    });
    expect(r.seen.map((s) => s.module)).toEqual([fc1, fc2]);
    expect(out).toEqual(r.seen[1]!.output);
    expect(hasOwnForward(fc1) || hasOwnForward(fc2)).toBe(false);
    model.forward(input(2, 3, 16));
    expect(r.seen).toHaveLength(2);
  });

  it('removes its hooks when fn throws (and rethrows)', () => {
    const fc = new Linear(2, 2, { rng: new Random(17) });
    const boom = new Error('boom');
    expect(() =>
      withForwardHooks([fc], () => {}, () => {
        fc.forward(input(2, 1, 1));
        throw boom;
      }),
    ).toThrow(boom);
    expect(hasOwnForward(fc)).toBe(false);
  });

  it('removes its hooks when a hook throws inside the forward pass', () => {
    const fc = new Linear(2, 2, { rng: new Random(18) });
    expect(() =>
      withForwardHooks(
        [fc],
        () => {
          throw new Error('hook failed');
        },
        () => fc.forward(input(2, 1, 1)),
      ),
    ).toThrow('hook failed');
    expect(hasOwnForward(fc)).toBe(false);
  });
});
